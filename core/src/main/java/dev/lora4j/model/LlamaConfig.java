package dev.lora4j.model;

import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.JsonFields;

/**
 * Hyperparameters of the Llama family (llama, mistral, qwen2; SmolLM ships as llama), named as in
 * transformers' LlamaConfig.
 *
 * @param qkvBias q, k and v projections have biases (qwen2 always; llama with attention_bias)
 * @param outputBias o_proj has a bias (llama with attention_bias only)
 * @param mlpBias gate/up/down have biases (llama's mlp_bias)
 */
public record LlamaConfig(
    String modelType,
    int vocabSize,
    int hiddenSize,
    int intermediateSize,
    int numLayers,
    int numHeads,
    int numKvHeads,
    int headDim,
    int maxPositions,
    double rmsNormEps,
    double ropeTheta,
    boolean tiedEmbeddings,
    boolean qkvBias,
    boolean outputBias,
    boolean mlpBias,
    String torchDtype)
    implements ModelConfig {

  static LlamaConfig from(JsonFields f, String modelType) {
    int hidden = ModelConfig.requirePositive(f, "hidden_size", f.requireInt("hidden_size"));
    int heads =
        ModelConfig.requirePositive(f, "num_attention_heads", f.requireInt("num_attention_heads"));
    int kvHeads =
        ModelConfig.requirePositive(
            f, "num_key_value_heads", f.optInt("num_key_value_heads", heads));
    if (heads % kvHeads != 0) {
      throw new CheckpointException(
          f.source()
              + ": num_attention_heads ("
              + heads
              + ") must be a multiple of num_key_value_heads ("
              + kvHeads
              + ")");
    }
    int headDim;
    if (f.has("head_dim")) {
      headDim = ModelConfig.requirePositive(f, "head_dim", f.requireInt("head_dim"));
    } else {
      if (hidden % heads != 0) {
        throw new CheckpointException(
            f.source()
                + ": hidden_size ("
                + hidden
                + ") must be divisible by num_attention_heads ("
                + heads
                + "), or give head_dim");
      }
      headDim = hidden / heads;
    }
    if (headDim % 2 != 0) {
      throw new CheckpointException(
          f.source() + ": head_dim must be even for rotary embeddings, was " + headDim);
    }
    String act = f.optString("hidden_act", "silu");
    if (!act.equals("silu")) {
      throw new CheckpointException(
          f.source() + ": hidden_act \"" + act + "\" is not supported; lora4j supports silu");
    }
    if (f.has("rope_scaling")) {
      throw new CheckpointException(
          f.source()
              + ": rope_scaling "
              + f.get("rope_scaling")
              + " is not supported yet; lora4j implements the default RoPE (remove rope_scaling"
              + " only if the model was trained without it)");
    }
    boolean attentionBias = f.optBoolean("attention_bias", false);
    boolean qwen2 = modelType.equals("qwen2");
    return new LlamaConfig(
        modelType,
        ModelConfig.requirePositive(f, "vocab_size", f.requireInt("vocab_size")),
        hidden,
        ModelConfig.requirePositive(f, "intermediate_size", f.requireInt("intermediate_size")),
        ModelConfig.requirePositive(f, "num_hidden_layers", f.requireInt("num_hidden_layers")),
        heads,
        kvHeads,
        headDim,
        ModelConfig.requirePositive(
            f, "max_position_embeddings", f.optInt("max_position_embeddings", 2048)),
        f.optDouble("rms_norm_eps", 1e-6),
        f.optDouble("rope_theta", 10000.0),
        f.optBoolean("tie_word_embeddings", false),
        qwen2 || attentionBias,
        !qwen2 && attentionBias,
        f.optBoolean("mlp_bias", false),
        f.optString("torch_dtype", "float32"));
  }
}
