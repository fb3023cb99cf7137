package dev.lora4j.model;

import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.JsonFields;

/**
 * GPT-2 hyperparameters (`model_type` gpt2), named as in transformers' GPT2Config.
 *
 * @param nInner the MLP width; config.json's null means 4 * nEmbd
 * @param activation `gelu_new` (tanh form, GPT-2's own) or `gelu` (erf form)
 */
public record Gpt2Config(
    int vocabSize,
    int nPositions,
    int nEmbd,
    int nLayer,
    int nHead,
    int nInner,
    double layerNormEpsilon,
    String activation,
    boolean tiedEmbeddings,
    String torchDtype)
    implements ModelConfig {

  static Gpt2Config from(JsonFields f) {
    int nEmbd = ModelConfig.requirePositive(f, "n_embd", f.requireInt("n_embd"));
    int nHead = ModelConfig.requirePositive(f, "n_head", f.requireInt("n_head"));
    if (nEmbd % nHead != 0) {
      throw new CheckpointException(
          f.source() + ": n_embd (" + nEmbd + ") must be divisible by n_head (" + nHead + ")");
    }
    String activation = f.optString("activation_function", "gelu_new");
    if (!activation.equals("gelu_new")
        && !activation.equals("gelu_pytorch_tanh")
        && !activation.equals("gelu")) {
      throw new CheckpointException(
          f.source()
              + ": activation_function \""
              + activation
              + "\" is not supported; use gelu_new, gelu_pytorch_tanh or gelu");
    }
    return new Gpt2Config(
        ModelConfig.requirePositive(f, "vocab_size", f.requireInt("vocab_size")),
        ModelConfig.requirePositive(f, "n_positions", f.optInt("n_positions", 1024)),
        nEmbd,
        ModelConfig.requirePositive(f, "n_layer", f.requireInt("n_layer")),
        nHead,
        ModelConfig.requirePositive(f, "n_inner", f.optInt("n_inner", 4 * nEmbd)),
        f.optDouble("layer_norm_epsilon", 1e-5),
        activation,
        f.optBoolean("tie_word_embeddings", true),
        f.optString("torch_dtype", "float32"));
  }

  @Override
  public String modelType() {
    return "gpt2";
  }

  @Override
  public int hiddenSize() {
    return nEmbd;
  }

  @Override
  public int numLayers() {
    return nLayer;
  }

  @Override
  public int maxPositions() {
    return nPositions;
  }

  public int headDim() {
    return nEmbd / nHead;
  }
}
