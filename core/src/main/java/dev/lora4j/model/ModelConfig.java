package dev.lora4j.model;

import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.JsonFields;
import java.nio.file.Path;
import java.util.List;

/** A Hugging Face `config.json`, read into the fields an architecture needs. */
public sealed interface ModelConfig permits Gpt2Config, LlamaConfig {

  /** The `model_type` values lora4j builds graphs for. */
  List<String> SUPPORTED_MODEL_TYPES = List.of("gpt2", "llama", "mistral", "qwen2");

  String modelType();

  int vocabSize();

  int hiddenSize();

  int numLayers();

  /** Longest sequence the position table (GPT-2) or the config (RoPE models) allows. */
  int maxPositions();

  /**
   * Rows of {@code seqLen} tokens must fit the model's positions: GPT-2's learned position table
   * has exactly {@link #maxPositions} rows, so a longer row would only fail inside the graph.
   * Called before any data is read or tensor allocated.
   */
  default void requireSeqLenFits(int seqLen) {
    if (seqLen > maxPositions()) {
      String field = modelType().equals("gpt2") ? "n_positions" : "max_position_embeddings";
      throw new IllegalArgumentException(
          "seq_len "
              + seqLen
              + " is longer than this "
              + modelType()
              + " model's "
              + maxPositions()
              + " positions ("
              + field
              + " in config.json); set seq_len to at most "
              + maxPositions());
    }
  }

  boolean tiedEmbeddings();

  /** `torch_dtype` as written in config.json ("float32", "bfloat16", ...), or "float32". */
  String torchDtype();

  /** Reads `config.json` and dispatches on `model_type`. */
  static ModelConfig read(Path configJson) {
    JsonFields fields = JsonFields.parse(configJson);
    return fromFields(fields);
  }

  static ModelConfig fromFields(JsonFields fields) {
    String modelType = fields.requireString("model_type");
    return switch (modelType) {
      case "gpt2" -> Gpt2Config.from(fields);
      case "llama", "mistral", "qwen2" -> LlamaConfig.from(fields, modelType);
      default ->
          throw new CheckpointException(
              fields.source()
                  + ": model_type \""
                  + modelType
                  + "\" is not supported; supported model types: "
                  + String.join(", ", SUPPORTED_MODEL_TYPES));
    };
  }

  /** Rejects a non-positive size with the field name and value. */
  static int requirePositive(JsonFields fields, String field, int value) {
    if (value < 1) {
      throw new CheckpointException(
          fields.source() + ": field '" + field + "' must be at least 1, was " + value);
    }
    return value;
  }
}
