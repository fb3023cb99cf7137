package dev.lora4j.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * GPT-2 (transformers' GPT2LMHeadModel): learned positions, pre-LN blocks, Conv1D projections
 * stored [in, out], a fused q/k/v projection `c_attn`, gelu_new, and a head tied to `wte`.
 */
public final class Gpt2 implements Architecture {
  private final Gpt2Config config;
  private final List<Projection> projections = new ArrayList<>();

  public Gpt2(Gpt2Config config) {
    this.config = config;
    int d = config.nEmbd();
    for (int i = 0; i < config.nLayer(); i++) {
      String block = "transformer.h." + i;
      projections.add(
          new Projection(
              block + ".attn.c_attn",
              d,
              3 * d,
              true,
              Projection.Layout.CONV1D,
              List.of(
                  new Projection.Slice("q", 0, d),
                  new Projection.Slice("k", d, d),
                  new Projection.Slice("v", 2 * d, d))));
      projections.add(conv1d(block + ".attn.c_proj", d, d));
      projections.add(conv1d(block + ".mlp.c_fc", d, config.nInner()));
      projections.add(conv1d(block + ".mlp.c_proj", config.nInner(), d));
    }
  }

  private static Projection conv1d(String name, int in, int out) {
    return new Projection(name, in, out, true, Projection.Layout.CONV1D, List.of());
  }

  @Override
  public Gpt2Config config() {
    return config;
  }

  @Override
  public List<Projection> projections() {
    return List.copyOf(projections);
  }

  @Override
  public Map<String, long[]> otherWeights() {
    int d = config.nEmbd();
    Map<String, long[]> weights = new LinkedHashMap<>();
    weights.put("transformer.wte.weight", new long[] {config.vocabSize(), d});
    weights.put("transformer.wpe.weight", new long[] {config.nPositions(), d});
    for (int i = 0; i < config.nLayer(); i++) {
      for (String norm : List.of("ln_1", "ln_2")) {
        weights.put("transformer.h." + i + "." + norm + ".weight", new long[] {d});
        weights.put("transformer.h." + i + "." + norm + ".bias", new long[] {d});
      }
    }
    weights.put("transformer.ln_f.weight", new long[] {d});
    weights.put("transformer.ln_f.bias", new long[] {d});
    if (!config.tiedEmbeddings()) {
      weights.put("lm_head.weight", new long[] {config.vocabSize(), d});
    }
    return weights;
  }

  @Override
  public Operand<TFloat32> logits(
      Ops tf, Operand<TInt32> inputIds, WeightSource w, ProjectionHook hook, KeyValueCache cache) {
    TransformerOps ops = new TransformerOps(tf, inputIds, cache);
    int d = config.nEmbd();
    int heads = config.nHead();
    int hd = config.headDim();
    Operand<TFloat32> positions =
        tf.gather(w.weight("transformer.wpe.weight"), ops.positions(), tf.constant(0)); // [T, d]
    Operand<TFloat32> tokens =
        tf.gather(w.weight("transformer.wte.weight"), inputIds, tf.constant(0)); // [B, T, d]
    Operand<TFloat32> h = ops.rows(tf.math.add(tokens, positions), d); // [N, d]
    int p = 0;
    for (int i = 0; i < config.nLayer(); i++) {
      String block = "transformer.h." + i;
      Operand<TFloat32> a =
          ops.layerNorm(
              h,
              w.weight(block + ".ln_1.weight"),
              w.weight(block + ".ln_1.bias"),
              config.layerNormEpsilon());
      Operand<TFloat32> qkv = hook.project(projections.get(p++), a); // [N, 3d]
      List<Operand<TFloat32>> qkvHeads = ops.splitFusedHeads(qkv, heads, hd); // [B, H, T, hd]
      Operand<TFloat32> q = qkvHeads.get(0);
      Operand<TFloat32> k = qkvHeads.get(1);
      Operand<TFloat32> v = qkvHeads.get(2);
      Operand<TFloat32> attended = ops.mergeHeads(ops.causalAttention(q, k, v, hd), heads, hd);
      h = tf.math.add(h, hook.project(projections.get(p++), attended));
      Operand<TFloat32> m =
          ops.layerNorm(
              h,
              w.weight(block + ".ln_2.weight"),
              w.weight(block + ".ln_2.bias"),
              config.layerNormEpsilon());
      Operand<TFloat32> hidden = hook.project(projections.get(p++), m); // [N, inner]
      hidden = config.activation().equals("gelu") ? ops.geluErf(hidden) : ops.geluTanh(hidden);
      h = tf.math.add(h, hook.project(projections.get(p++), hidden));
    }
    h =
        ops.layerNorm(
            h,
            w.weight("transformer.ln_f.weight"),
            w.weight("transformer.ln_f.bias"),
            config.layerNormEpsilon());
    String head = config.tiedEmbeddings() ? "transformer.wte.weight" : "lm_head.weight";
    return ops.head(h, w.weight(head), config.vocabSize(), hook);
  }
}
