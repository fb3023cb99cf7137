package dev.lora4j.model;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.io.CheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A checkpoint that does not fit its config.json is refused with the key, value and fix. */
class CheckpointErrorsTest {
  @TempDir Path tmp;

  /** A copy of gpt2-tiny with config.json edited by a regex replacement. */
  private Path gpt2With(String regex, String replacement) throws IOException {
    Path source = Conformance.dir("gpt2-tiny");
    Path dir = Files.createDirectories(tmp.resolve("model"));
    Files.copy(source.resolve("model.safetensors"), dir.resolve("model.safetensors"));
    String config = Files.readString(source.resolve("config.json"));
    String edited = config.replaceAll(regex, replacement);
    assertTrue(!edited.equals(config) || regex.isEmpty(), "the edit must change config.json");
    Files.writeString(dir.resolve("config.json"), edited);
    return dir;
  }

  private static String message(Path dir) {
    return assertThrows(CheckpointException.class, () -> Checkpoint.open(dir).close()).getMessage();
  }

  @Test
  void tensorMissingForTheConfigIsNamed() throws IOException {
    String m = message(gpt2With("\"n_layer\": 2", "\"n_layer\": 3"));
    assertTrue(m.contains("'transformer.h.2.ln_1.weight' is missing"), m);
    assertTrue(m.contains("3 layers"), m);
  }

  @Test
  void tensorShapeDisagreeingWithTheConfigIsNamed() throws IOException {
    String m = message(gpt2With("\"vocab_size\": 97", "\"vocab_size\": 98"));
    assertTrue(m.contains("'transformer.wte.weight' has shape [97, 48]"), m);
    assertTrue(m.contains("implies [98, 48]"), m);
  }

  @Test
  void unsupportedModelTypeListsTheSupportedOnes() throws IOException {
    String m = message(gpt2With("\"model_type\": \"gpt2\"", "\"model_type\": \"bert\""));
    assertTrue(m.contains("\"bert\" is not supported"), m);
    assertTrue(m.contains("gpt2, llama, mistral, qwen2"), m);
  }

  @Test
  void missingConfigJsonSaysWhatADirectoryHolds() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("empty"));
    String m = message(dir);
    assertTrue(m.contains("no config.json"), m);
  }

  @Test
  void missingWeightsFileIsNamed() throws IOException {
    Path dir = gpt2With("", "");
    Files.delete(dir.resolve("model.safetensors"));
    String m = message(dir);
    assertTrue(m.contains("no model.safetensors"), m);
  }

  @Test
  void gpt2WithoutTransformerPrefixLoads() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("noprefix"));
    Path source = Conformance.dir("gpt2-tiny");
    Files.copy(source.resolve("config.json"), dir.resolve("config.json"));
    var tensors = new java.util.LinkedHashMap<String, dev.lora4j.io.SafetensorsWriter.TensorData>();
    try (var file = dev.lora4j.io.SafetensorsFile.open(source.resolve("model.safetensors"))) {
      for (var t : file.tensors()) {
        tensors.put(
            t.name().replaceFirst("^transformer\\.", ""),
            dev.lora4j.io.SafetensorsWriter.TensorData.f32(t.shape(), file.floats(t.name())));
      }
      // Legacy buffers that old GPT-2 checkpoints carry are ignored.
      tensors.put(
          "h.0.attn.bias",
          dev.lora4j.io.SafetensorsWriter.TensorData.f32(new long[] {1}, new float[] {1}));
    }
    dev.lora4j.io.SafetensorsWriter.write(
        dir.resolve("model.safetensors"), tensors, java.util.Map.of());
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      assertTrue(checkpoint.floats("transformer.wte.weight").length == 97 * 48);
    }
  }
}
