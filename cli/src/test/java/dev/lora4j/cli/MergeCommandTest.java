package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.io.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `lora4j merge` then `lora4j logits` on the merged directory gives the adapter's logits. */
class MergeCommandTest {
  @TempDir Path tmp;

  @Test
  void mergedDirectoryReproducesTheAdapterLogits() {
    Path dir = LogitsCommandTest.conformance("qwen2-tiny");
    Path merged = tmp.resolve("merged");
    assertEquals(
        0,
        Lora4j.run(
            "merge",
            "--model",
            dir.toString(),
            "--adapter",
            dir.resolve("adapter").toString(),
            "--out",
            merged.toString()));
    Path logits = tmp.resolve("logits.safetensors");
    assertEquals(
        0,
        Lora4j.run(
            "logits",
            "--model",
            merged.toString(),
            "--input",
            dir.resolve("inputs.json").toString(),
            "--out",
            logits.toString()));
    try (SafetensorsFile got = SafetensorsFile.open(logits);
        SafetensorsFile want = SafetensorsFile.open(dir.resolve("logits_adapter.safetensors"))) {
      float[] a = got.floats("logits");
      float[] b = want.floats("logits");
      double max = 0;
      for (int i = 0; i < a.length; i++) {
        max = Math.max(max, Math.abs(a[i] - b[i]));
      }
      assertTrue(max <= 1e-4, "max abs diff " + max);
    }
    // A second merge into the same, now non-empty, directory is refused.
    assertEquals(
        1,
        Lora4j.run(
            "merge",
            "--model",
            dir.toString(),
            "--adapter",
            dir.resolve("adapter").toString(),
            "--out",
            merged.toString()));
    assertTrue(Files.exists(merged.resolve("config.json")));
  }
}
