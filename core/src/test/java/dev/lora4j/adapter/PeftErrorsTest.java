package dev.lora4j.adapter;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.io.SafetensorsFile;
import dev.lora4j.io.SafetensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Adapter directories that cannot be used are refused with the key, the value and the fix. */
class PeftErrorsTest {
  @TempDir Path tmp;

  /** A copy of gpt2-tiny/adapter with its tensors filtered/edited and its config edited. */
  private Path adapterWith(
      java.util.function.Predicate<String> keep,
      String extraKey,
      String configFrom,
      String configTo)
      throws Exception {
    Path source = Conformance.dir("gpt2-tiny").resolve("adapter");
    Path dir = Files.createDirectories(tmp.resolve("a" + System.nanoTime()));
    Map<String, SafetensorsWriter.TensorData> tensors = new LinkedHashMap<>();
    try (SafetensorsFile f = SafetensorsFile.open(source.resolve(PeftAdapter.WEIGHTS_FILE))) {
      for (var t : f.tensors()) {
        if (keep.test(t.name())) {
          tensors.put(t.name(), SafetensorsWriter.TensorData.f32(t.shape(), f.floats(t.name())));
        }
      }
    }
    if (extraKey != null) {
      tensors.put(extraKey, SafetensorsWriter.TensorData.f32(new long[] {144}, new float[144]));
    }
    SafetensorsWriter.write(dir.resolve(PeftAdapter.WEIGHTS_FILE), tensors, Map.of());
    String config = Files.readString(source.resolve(PeftAdapter.CONFIG_FILE));
    Files.writeString(dir.resolve(PeftAdapter.CONFIG_FILE), config.replace(configFrom, configTo));
    return dir;
  }

  private static String message(Path dir) {
    return assertThrows(RuntimeException.class, () -> PeftAdapter.load(dir)).getMessage();
  }

  @Test
  void aMissingLoraBIsNamed() throws Exception {
    String m =
        message(
            adapterWith(
                k -> !k.equals("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight"),
                null,
                "",
                ""));
    assertTrue(m.contains("'transformer.h.0.attn.c_attn' has lora_A but no lora_B"), m);
  }

  @Test
  void doraIsRefusedAndNamed() throws Exception {
    String m =
        message(
            adapterWith(
                k -> true,
                "base_model.model.transformer.h.0.attn.c_attn.lora_magnitude_vector",
                "",
                ""));
    assertTrue(m.contains("DoRA"), m);
    String config =
        message(adapterWith(k -> true, null, "\"use_dora\": false", "\"use_dora\": true"));
    assertTrue(config.contains("use_dora is true"), config);
  }

  @Test
  void anotherPeftTypeIsRefusedAndNamed() throws Exception {
    String m =
        message(adapterWith(k -> true, null, "\"peft_type\": \"LORA\"", "\"peft_type\": \"IA3\""));
    assertTrue(m.contains("peft_type is \"IA3\""), m);
  }

  @Test
  void aRankThatDisagreesWithTheConfigIsNamed() throws Exception {
    String m = message(adapterWith(k -> true, null, "\"r\": 4", "\"r\": 8"));
    assertTrue(m.contains("has rank 4 but adapter_config.json gives it r = 8"), m);
  }
}
