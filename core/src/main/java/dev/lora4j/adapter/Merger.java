package dev.lora4j.adapter;

import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.WeightVariable;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.DType;
import dev.lora4j.io.SafetensorsWriter;
import dev.lora4j.io.TensorInfo;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.model.Projection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** Merging adapters into base weights: in a compiled model, or into a new checkpoint directory. */
public final class Merger {
  /** Tokenizer and generation files copied next to a merged checkpoint. */
  static final List<String> SIDE_FILES =
      List.of(
          "tokenizer.json",
          "tokenizer_config.json",
          "special_tokens_map.json",
          "vocab.json",
          "merges.txt",
          "tokenizer.model",
          "generation_config.json");

  private Merger() {}

  /** The merged value of every adapted weight (checkpoint key → float32 values). */
  public static Map<String, float[]> mergedWeights(Checkpoint checkpoint, PeftAdapter adapter) {
    Map<String, float[]> out = new LinkedHashMap<>();
    Map<String, Projection> byName = new LinkedHashMap<>();
    for (Projection p : checkpoint.architecture().projections()) {
      byName.put(p.name(), p);
    }
    for (LoraModuleSpec spec : adapter.wholeModuleSpecsFor(checkpoint.architecture())) {
      Projection p = byName.get(spec.module());
      LoraFactors f = adapter.modules().get(spec.module());
      float[] weight = checkpoint.floats(p.weightKey());
      LoraDelta.apply(weight, f, spec.scale(), p.layout(), +1);
      requireFinite(weight, adapter, p.weightKey());
      out.put(p.weightKey(), weight);
    }
    return out;
  }

  /** Refuses a merge whose result is not finite, naming the adapter and the module. */
  static void requireFinite(float[] weight, PeftAdapter adapter, String key) {
    for (int i = 0; i < weight.length; i++) {
      if (!Float.isFinite(weight[i])) {
        throw new IllegalStateException(
            "merging the adapter "
                + adapter.dir()
                + " into '"
                + key
                + "' gives "
                + weight[i]
                + " at index "
                + i
                + "; the adapter or the base holds non-finite or huge values."
                + " Nothing was written.");
      }
    }
  }

  /**
   * Writes a plain Hugging Face checkpoint with the adapter merged in: config.json, one
   * model.safetensors in {@code dtype} (null = the base's storage dtype) and the tokenizer files.
   *
   * @param force replace a non-empty output directory
   */
  public static void exportMerged(
      Checkpoint checkpoint, PeftAdapter adapter, Path out, DType dtype, boolean force) {
    prepareOutput(out, force);
    writeCheckpoint(checkpoint, mergedWeights(checkpoint, adapter), out, dtype);
  }

  /**
   * Writes a checkpoint into a prepared directory ({@link #prepareOutput}): the base's weights,
   * with the given keys replaced, in {@code dtype} (null = the base's storage dtype), plus
   * config.json and the tokenizer files.
   */
  public static void writeCheckpoint(
      Checkpoint checkpoint, Map<String, float[]> merged, Path out, DType dtype) {
    Map<String, SafetensorsWriter.TensorData> tensors = new LinkedHashMap<>();
    DType target = null;
    for (String key : checkpoint.architecture().expectedWeights().keySet()) {
      TensorInfo info = checkpoint.info(key);
      DType stored = dtype != null ? dtype : info.dtype();
      target = stored;
      float[] values = merged.containsKey(key) ? merged.get(key) : null;
      if (values == null && stored == info.dtype()) {
        tensors.put(
            key, new SafetensorsWriter.TensorData(stored, info.shape(), checkpoint.bytes(key)));
        continue;
      }
      if (values == null) {
        values = checkpoint.floats(key);
      }
      tensors.put(
          key,
          stored == DType.BF16
              ? SafetensorsWriter.TensorData.bf16FromFloats(info.shape(), values)
              : SafetensorsWriter.TensorData.f32(info.shape(), values));
    }
    SafetensorsWriter.write(out.resolve("model.safetensors"), tensors, Map.of());
    try {
      String config = Files.readString(checkpoint.dir().resolve("config.json"));
      if (dtype != null) {
        config =
            config.replaceAll(
                "\"torch_dtype\"\\s*:\\s*\"[a-z0-9]+\"",
                "\"torch_dtype\": \"" + (target == DType.BF16 ? "bfloat16" : "float32") + "\"");
      }
      AtomicFiles.writeString(out.resolve("config.json"), config);
      for (String name : SIDE_FILES) {
        Path source = checkpoint.dir().resolve(name);
        if (Files.isRegularFile(source)) {
          Files.copy(source, out.resolve(name), StandardCopyOption.REPLACE_EXISTING);
        }
      }
    } catch (IOException e) {
      throw new CheckpointException(
          out + ": cannot write the merged checkpoint: " + e.getMessage(), e);
    }
  }

  /** An output directory must be new or empty, unless the user forces it. */
  public static void prepareOutput(Path out, boolean force) {
    try {
      if (Files.isDirectory(out)) {
        boolean empty;
        try (Stream<Path> entries = Files.list(out)) {
          empty = entries.findAny().isEmpty();
        }
        if (!empty && !force) {
          throw new CheckpointException(
              out
                  + ": exists and is not empty; choose a new --out directory or pass --force to"
                  + " overwrite its files");
        }
      } else if (Files.exists(out)) {
        throw new CheckpointException(out + ": exists and is not a directory");
      }
      Files.createDirectories(out);
    } catch (IOException e) {
      throw new CheckpointException(
          out + ": cannot create the output directory: " + e.getMessage(), e);
    }
  }

  /**
   * Adds (sign +1) or removes (-1) a loaded adapter's delta in a compiled model's base weights, so
   * the merged model runs with no adapter ops at all.
   */
  public static void mergeInto(CompiledModel model, PeftAdapter adapter, int sign) {
    if (!model.quantizedWeights().isEmpty()) {
      throw new IllegalStateException(
          "this model's projections are stored quantized; merging would re-quantize them and"
              + " silently move the logits. Keep the adapter unmerged, or use QuantizedMerge"
              + " (lora4j merge --quantize-base), which measures and reports the drift");
    }
    Map<String, Projection> byName = new LinkedHashMap<>();
    for (Projection p : model.architecture().projections()) {
      byName.put(p.name(), p);
    }
    List<LoraModuleSpec> specs = adapter.wholeModuleSpecsFor(model.architecture());
    List<WeightVariable> weights = new ArrayList<>();
    for (LoraModuleSpec spec : specs) {
      weights.add(model.baseWeights().get(byName.get(spec.module()).weightKey()));
    }
    // Read and written in groups (a session run per group, not per weight), merged in between;
    // nothing is written until every weight of the group is finite.
    int done = 0;
    for (List<WeightVariable> group : CompiledModel.groups(weights)) {
      List<float[]> values = model.read(group);
      for (int i = 0; i < group.size(); i++) {
        LoraModuleSpec spec = specs.get(done + i);
        Projection p = byName.get(spec.module());
        float[] weight = values.get(i);
        LoraDelta.apply(
            weight, adapter.modules().get(spec.module()), spec.scale(), p.layout(), sign);
        requireFinite(weight, adapter, p.weightKey());
      }
      model.assign(group, values);
      done += group.size();
    }
  }
}
