package dev.lora4j.bench;

import dev.lora4j.model.Architecture;
import dev.lora4j.model.Gpt2Config;
import dev.lora4j.model.LlamaConfig;
import dev.lora4j.model.ModelConfig;
import dev.lora4j.model.Projection;
import java.util.List;

/**
 * The benchmarked shapes. A and B are the two of the PyTorch reference in
 * shared/notes/data-and-models.md (GPT-2 layout with biases, tied head, 1024 learned positions); S
 * is the Llama family at the size a user fine-tunes on a CPU.
 */
public enum BenchConfig {
  /** 4 layers, d 256, 4 heads, vocab 5000; seq 128, batch 8; 20 measured steps. */
  A(new Gpt2Config(5000, 1024, 256, 4, 4, 1024, 1e-5, "gelu_new", true, "float32"), 128, 8, 20),
  /** GPT-2 small: 12 layers, d 768, 12 heads, vocab 50257; seq 128, batch 4; 8 measured steps. */
  B(new Gpt2Config(50257, 1024, 768, 12, 12, 3072, 1e-5, "gelu_new", true, "float32"), 128, 4, 8),
  /**
   * SmolLM-135M's shape (Llama layout: RMSNorm, RoPE, grouped-query attention with 9 query and 3
   * key/value heads, SiLU-gated MLP, no biases, tied head): 30 layers, d 576, MLP 1536, vocab
   * 49152; seq 128, batch 4; 8 measured steps. LoRA goes on q_proj and v_proj.
   */
  S(
      new LlamaConfig(
          "llama", 49152, 576, 1536, 30, 9, 3, 64, 2048, 1e-5, 10000, true, false, false, false,
          "float32"),
      128,
      4,
      8);

  public final ModelConfig model;
  public final int seqLen;
  public final int batch;
  public final int measuredSteps;

  BenchConfig(ModelConfig model, int seqLen, int batch, int measuredSteps) {
    this.model = model;
    this.seqLen = seqLen;
    this.batch = batch;
    this.measuredSteps = measuredSteps;
  }

  /** The base projections of every layer (names, in, out), from the config alone. */
  public List<Projection> projections() {
    return Architecture.of(model).projections();
  }

  /**
   * Whether LoRA goes on this projection in the "lora" mode: the q and v slices of GPT-2's fused
   * c_attn, or a Llama model's q_proj and v_proj (the LoRA paper's choice in both layouts).
   */
  public static boolean queryValue(Projection p) {
    return p.name().endsWith("attn.c_attn")
        || p.name().endsWith("self_attn.q_proj")
        || p.name().endsWith("self_attn.v_proj");
  }

  /** The largest LoRA rank every adapted projection (or slice) of the "lora" mode admits. */
  public int maxRank() {
    int max = Integer.MAX_VALUE;
    for (Projection p : projections()) {
      if (queryValue(p)) {
        int out = p.slices().stream().mapToInt(Projection.Slice::size).min().orElse(p.out());
        max = Math.min(max, Math.min(p.in(), out));
      }
    }
    return max;
  }

  /** The width attention's products run over: heads × head dim (d for GPT-2). */
  public int attentionWidth() {
    return model instanceof LlamaConfig l ? l.numHeads() * l.headDim() : model.hiddenSize();
  }

  /** A short description for reports: layout, layers, width, vocabulary. */
  public String describe() {
    return String.format(
        java.util.Locale.ROOT,
        "%s, %d layers, d %d, vocab %d",
        model.modelType(),
        model.numLayers(),
        model.hiddenSize(),
        model.vocabSize());
  }
}
