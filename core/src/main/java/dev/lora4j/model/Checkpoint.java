package dev.lora4j.model;

import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.DType;
import dev.lora4j.io.JsonFields;
import dev.lora4j.io.SafetensorsFile;
import dev.lora4j.io.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonObject;
import kotlinx.serialization.json.JsonPrimitive;

/**
 * A Hugging Face checkpoint directory: `config.json` plus `model.safetensors`, or shards listed in
 * `model.safetensors.index.json`. Tensors stay memory-mapped until a graph copies them; keys are
 * looked up by their canonical names (GPT-2 files saved without the `transformer.` prefix work).
 */
public final class Checkpoint implements AutoCloseable {
  private final Path dir;
  private final ModelConfig config;
  private final Architecture architecture;
  private final List<SafetensorsFile> files = new ArrayList<>();
  private final Map<String, SafetensorsFile> fileByKey = new LinkedHashMap<>();
  private final String keyPrefixToStrip;

  private Checkpoint(Path dir) {
    this.dir = dir;
    Path configFile = dir.resolve("config.json");
    if (!Files.isDirectory(dir)) {
      throw new CheckpointException(
          dir
              + ": not a directory; point --model at a Hugging Face checkpoint directory"
              + " (config.json + model.safetensors)");
    }
    if (!Files.isRegularFile(configFile)) {
      throw new CheckpointException(
          dir
              + ": no config.json; a Hugging Face checkpoint directory holds config.json and"
              + " model.safetensors");
    }
    this.config = ModelConfig.read(configFile);
    this.architecture = Architecture.of(config);
    try {
      openWeightFiles();
    } catch (RuntimeException e) {
      close();
      throw e;
    }
    this.keyPrefixToStrip = detectPrefix();
  }

  /** Opens and validates a checkpoint directory; tensors are not read yet. */
  public static Checkpoint open(Path dir) {
    Checkpoint checkpoint = new Checkpoint(dir);
    try {
      checkpoint.validate();
    } catch (RuntimeException e) {
      checkpoint.close();
      throw e;
    }
    return checkpoint;
  }

  private void openWeightFiles() {
    Path single = dir.resolve("model.safetensors");
    Path index = dir.resolve("model.safetensors.index.json");
    if (Files.isRegularFile(single)) {
      SafetensorsFile file = SafetensorsFile.open(single);
      files.add(file);
      for (TensorInfo t : file.tensors()) {
        fileByKey.put(t.name(), file);
      }
    } else if (Files.isRegularFile(index)) {
      JsonFields fields = JsonFields.parse(index);
      JsonElement map = fields.get("weight_map");
      if (!(map instanceof JsonObject weightMap)) {
        throw new CheckpointException(
            index + ": field 'weight_map' must be an object of" + " tensor name -> shard file");
      }
      Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
      for (Map.Entry<String, JsonElement> e : weightMap.entrySet()) {
        if (!(e.getValue() instanceof JsonPrimitive shardName) || !shardName.isString()) {
          throw new CheckpointException(
              index
                  + ": weight_map[\""
                  + e.getKey()
                  + "\"] must be a file name, was "
                  + e.getValue());
        }
        String name = shardName.getContent();
        Path shard = dir.resolve(name).normalize();
        if (!shard.getParent().equals(dir.normalize()) || !Files.isRegularFile(shard)) {
          throw new CheckpointException(
              index
                  + ": weight_map[\""
                  + e.getKey()
                  + "\"] names shard \""
                  + name
                  + "\", which is not a file in "
                  + dir);
        }
        SafetensorsFile file = shards.get(name);
        if (file == null) {
          file = SafetensorsFile.open(shard);
          shards.put(name, file);
          files.add(file);
        }
        if (!file.contains(e.getKey())) {
          throw new CheckpointException(
              index
                  + ": tensor '"
                  + e.getKey()
                  + "' is listed in shard "
                  + name
                  + " but that file does not hold it");
        }
        fileByKey.put(e.getKey(), file);
      }
    } else {
      throw new CheckpointException(
          dir
              + ": no model.safetensors and no"
              + " model.safetensors.index.json; lora4j reads safetensors weights (convert"
              + " pytorch_model.bin with transformers' save_pretrained(safe_serialization=True))");
    }
  }

  /** GPT-2 checkpoints saved from GPT2Model lack the `transformer.` prefix. */
  private String detectPrefix() {
    if (config instanceof Gpt2Config
        && !fileByKey.containsKey("transformer.wte.weight")
        && fileByKey.containsKey("wte.weight")) {
      return "transformer.";
    }
    return "";
  }

  private String storedKey(String canonicalKey) {
    if (!keyPrefixToStrip.isEmpty() && canonicalKey.startsWith(keyPrefixToStrip)) {
      return canonicalKey.substring(keyPrefixToStrip.length());
    }
    return canonicalKey;
  }

  /** Every tensor the config implies is present, with the implied shape and a float dtype. */
  private void validate() {
    for (Map.Entry<String, long[]> e : architecture.expectedWeights().entrySet()) {
      TensorInfo info = findInfo(e.getKey());
      if (info == null) {
        throw new CheckpointException(
            weightFilesName()
                + ": tensor '"
                + storedKey(e.getKey())
                + "' is missing, but config.json ("
                + describeConfig()
                + ") needs it; the weights do"
                + " not belong to this config.json, or the file is incomplete");
      }
      if (!Arrays.equals(info.shape(), e.getValue())) {
        throw new CheckpointException(
            weightFilesName()
                + ": tensor '"
                + info.name()
                + "' has shape "
                + Arrays.toString(info.shape())
                + " but config.json ("
                + describeConfig()
                + ") implies "
                + Arrays.toString(e.getValue())
                + "; the weights do not belong to this config.json");
      }
      DType dtype = info.dtype();
      if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.F16 && dtype != DType.F64) {
        throw new CheckpointException(
            weightFilesName()
                + ": tensor '"
                + info.name()
                + "' has dtype "
                + dtype
                + "; weights must be F32, BF16, F16 or F64");
      }
    }
  }

  private String weightFilesName() {
    return files.size() == 1 ? files.get(0).path().toString() : dir + " (sharded)";
  }

  private String describeConfig() {
    return "model_type "
        + config.modelType()
        + ", hidden size "
        + config.hiddenSize()
        + ", "
        + config.numLayers()
        + " layers, vocab "
        + config.vocabSize();
  }

  private TensorInfo findInfo(String canonicalKey) {
    SafetensorsFile file = fileByKey.get(storedKey(canonicalKey));
    return file == null ? null : file.info(storedKey(canonicalKey));
  }

  public Path dir() {
    return dir;
  }

  public ModelConfig config() {
    return config;
  }

  public Architecture architecture() {
    return architecture;
  }

  /** Header facts of a weight, by canonical key. */
  public TensorInfo info(String canonicalKey) {
    TensorInfo info = findInfo(canonicalKey);
    if (info == null) {
      throw new CheckpointException(dir + ": no tensor '" + canonicalKey + "'");
    }
    return info;
  }

  /** The raw little-endian bytes of a weight (memory-mapped). */
  public ByteBuffer bytes(String canonicalKey) {
    info(canonicalKey);
    return fileByKey.get(storedKey(canonicalKey)).bytes(storedKey(canonicalKey));
  }

  /** A weight upcast to float32 on the heap; for small tensors and tests. */
  public float[] floats(String canonicalKey) {
    info(canonicalKey);
    return fileByKey.get(storedKey(canonicalKey)).floats(storedKey(canonicalKey));
  }

  /** Total bytes of the stored weights the architecture uses. */
  public long weightBytes() {
    long total = 0;
    for (String key : architecture.expectedWeights().keySet()) {
      total += info(key).byteLength();
    }
    return total;
  }

  @Override
  public void close() {
    for (SafetensorsFile f : files) {
      f.close();
    }
    files.clear();
  }
}
