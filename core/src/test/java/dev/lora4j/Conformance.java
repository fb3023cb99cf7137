package dev.lora4j;

import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.io.JsonFields;
import dev.lora4j.io.SafetensorsFile;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonPrimitive;

/** The vendored conformance goldens (see src/test/resources/conformance/README.md). */
public final class Conformance {
  public static final List<String> CASES =
      List.of("gpt2-tiny", "gpt2-tiny-bf16", "llama-tiny", "qwen2-tiny");

  private Conformance() {}

  public static Path root() {
    String configured = System.getProperty("lora4j.conformance");
    Path path =
        configured != null ? Path.of(configured) : Path.of("src/test/resources/conformance");
    if (!Files.isDirectory(path)) {
      throw new IllegalStateException("conformance goldens not found at " + path.toAbsolutePath());
    }
    return path;
  }

  public static Path dir(String name) {
    return root().resolve(name);
  }

  /** `{"input_ids": [[...], ...]}` as int rows. */
  public static int[][] ids(Path json) {
    JsonElement rows = JsonFields.parse(json).get("input_ids");
    JsonArray array = (JsonArray) rows;
    int[][] out = new int[array.size()][];
    for (int b = 0; b < out.length; b++) {
      JsonArray row = (JsonArray) array.get(b);
      out[b] = new int[row.size()];
      for (int t = 0; t < out[b].length; t++) {
        out[b][t] = Integer.parseInt(((JsonPrimitive) row.get(t)).getContent());
      }
    }
    return out;
  }

  public static float[] tensor(Path file, String key) {
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      return f.floats(key);
    }
  }

  public static double maxAbsDiff(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
    }
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs((double) a[i] - b[i]));
      if (Float.isNaN(a[i]) != Float.isNaN(b[i])) {
        return Double.POSITIVE_INFINITY;
      }
    }
    return max;
  }

  /**
   * A conformance checkpoint compiled with the modules of its PEFT adapter ({@code adapter/}), the
   * adapter's weights set; closing it closes the model, then the checkpoint.
   */
  public record AdaptedModel(Checkpoint checkpoint, PeftAdapter adapter, CompiledModel model)
      implements AutoCloseable {
    @Override
    public void close() {
      try (Checkpoint opened = checkpoint) {
        model.close();
      }
    }
  }

  public static AdaptedModel withAdapter(Path dir, CompileOptions options) {
    PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
    Checkpoint checkpoint = Checkpoint.open(dir);
    CompiledModel model = null;
    try {
      model =
          ModelCompiler.compile(checkpoint, adapter.specsFor(checkpoint.architecture()), options);
      adapter.applyTo(model);
      return new AdaptedModel(checkpoint, adapter, model);
    } catch (RuntimeException e) {
      if (model != null) {
        model.close();
      }
      checkpoint.close();
      throw e;
    }
  }
}
