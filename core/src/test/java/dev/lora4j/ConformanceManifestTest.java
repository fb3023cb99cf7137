package dev.lora4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.io.JsonFields;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonObject;
import kotlinx.serialization.json.JsonPrimitive;
import org.junit.jupiter.api.Test;

/** The vendored goldens are byte for byte the ones MANIFEST.json lists. */
class ConformanceManifestTest {
  @Test
  void everyVendoredFileHasTheManifestSizeAndSha256() throws Exception {
    Path root = Conformance.root();
    JsonObject files = (JsonObject) JsonFields.parse(root.resolve("MANIFEST.json")).get("files");
    assertTrue(files.size() > 50, "the manifest lists the goldens");
    for (Map.Entry<String, JsonElement> e : files.entrySet()) {
      JsonObject entry = (JsonObject) e.getValue();
      byte[] bytes = Files.readAllBytes(root.resolve(e.getKey()));
      long size = Long.parseLong(((JsonPrimitive) entry.get("bytes")).getContent());
      assertEquals(size, bytes.length, e.getKey());
      String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
      assertEquals(((JsonPrimitive) entry.get("sha256")).getContent(), sha, e.getKey());
    }
  }
}
