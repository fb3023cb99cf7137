package dev.lora4j.compile;

import java.util.List;

/**
 * The adapter on one projection, fully resolved: `out = base(x) + scale * B(A(dropout(x)))`.
 *
 * @param module the projection's module path, e.g. `model.layers.0.self_attn.q_proj`
 * @param scale alpha / rank, or alpha / sqrt(rank) with rsLoRA
 * @param slices for a fused projection, the output slices that get their own (A, B) pair (the LoRA
 *     paper's q and v of GPT-2's c_attn); empty adapts the whole output
 * @param rsLora the scale was computed as alpha / sqrt(rank) (rank-stabilised LoRA)
 */
public record LoraModuleSpec(
    String module,
    int rank,
    double alpha,
    double scale,
    double dropout,
    dev.lora4j.dsl.LoraInit init,
    List<String> slices,
    boolean rsLora) {

  public LoraModuleSpec {
    slices = List.copyOf(slices);
  }

  /** A spec with the plain scale alpha / rank convention. */
  public LoraModuleSpec(
      String module,
      int rank,
      double alpha,
      double scale,
      double dropout,
      dev.lora4j.dsl.LoraInit init,
      List<String> slices) {
    this(module, rank, alpha, scale, dropout, init, slices, false);
  }

  public boolean sliced() {
    return !slices.isEmpty();
  }
}
