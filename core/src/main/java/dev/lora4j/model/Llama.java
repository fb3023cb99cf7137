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
 * The Llama family (llama, mistral, qwen2, SmolLM): RMSNorm, rotary embeddings, grouped-query
 * attention, a SwiGLU MLP, nn.Linear projections stored [out, in], tied or untied head.
 */
public final class Llama implements Architecture {
  private final LlamaConfig config;
  private final List<Projection> projections = new ArrayList<>();

  public Llama(LlamaConfig config) {
    this.config = config;
    int d = config.hiddenSize();
    int qWidth = config.numHeads() * config.headDim();
    int kvWidth = config.numKvHeads() * config.headDim();
    int inter = config.intermediateSize();
    for (int i = 0; i < config.numLayers(); i++) {
      String attn = "model.layers." + i + ".self_attn.";
      String mlp = "model.layers." + i + ".mlp.";
      projections.add(Projection.linear(attn + "q_proj", d, qWidth, config.qkvBias()));
      projections.add(Projection.linear(attn + "k_proj", d, kvWidth, config.qkvBias()));
      projections.add(Projection.linear(attn + "v_proj", d, kvWidth, config.qkvBias()));
      projections.add(Projection.linear(attn + "o_proj", qWidth, d, config.outputBias()));
      projections.add(Projection.linear(mlp + "gate_proj", d, inter, config.mlpBias()));
      projections.add(Projection.linear(mlp + "up_proj", d, inter, config.mlpBias()));
      projections.add(Projection.linear(mlp + "down_proj", inter, d, config.mlpBias()));
    }
  }

  @Override
  public LlamaConfig config() {
    return config;
  }

  @Override
  public List<Projection> projections() {
    return List.copyOf(projections);
  }

  @Override
  public Map<String, long[]> otherWeights() {
    int d = config.hiddenSize();
    Map<String, long[]> weights = new LinkedHashMap<>();
    weights.put("model.embed_tokens.weight", new long[] {config.vocabSize(), d});
    for (int i = 0; i < config.numLayers(); i++) {
      weights.put("model.layers." + i + ".input_layernorm.weight", new long[] {d});
      weights.put("model.layers." + i + ".post_attention_layernorm.weight", new long[] {d});
    }
    weights.put("model.norm.weight", new long[] {d});
    if (!config.tiedEmbeddings()) {
      weights.put("lm_head.weight", new long[] {config.vocabSize(), d});
    }
    return weights;
  }

  @Override
  public Operand<TFloat32> logits(
      Ops tf, Operand<TInt32> inputIds, WeightSource w, ProjectionHook hook, KeyValueCache cache) {
    TransformerOps ops = new TransformerOps(tf, inputIds, cache);
    int d = config.hiddenSize();
    int heads = config.numHeads();
    int kvHeads = config.numKvHeads();
    int hd = config.headDim();
    double eps = config.rmsNormEps();
    Operand<TFloat32>[] rope = ops.rotaryTables(hd, config.ropeTheta()); // cos, sin [T, hd]
    Operand<TFloat32> h = ops.embed(w.weight("model.embed_tokens.weight"), inputIds, d); // [N, d]
    int p = 0;
    for (int i = 0; i < config.numLayers(); i++) {
      String layer = "model.layers." + i;
      Operand<TFloat32> a = ops.rmsNorm(h, w.weight(layer + ".input_layernorm.weight"), eps);
      Operand<TFloat32> q = ops.splitHeads(hook.project(projections.get(p++), a), heads, hd);
      Operand<TFloat32> k = ops.splitHeads(hook.project(projections.get(p++), a), kvHeads, hd);
      Operand<TFloat32> v = ops.splitHeads(hook.project(projections.get(p++), a), kvHeads, hd);
      q = ops.applyRotary(q, rope[0], rope[1]); // [B, H, T, hd]
      k = ops.applyRotary(k, rope[0], rope[1]); // [B, KV, T, hd]
      Operand<TFloat32> attended =
          ops.mergeHeads(ops.causalAttention(q, k, v, hd, heads / kvHeads), heads, hd);
      h = tf.math.add(h, hook.project(projections.get(p++), attended));
      Operand<TFloat32> m =
          ops.rmsNorm(h, w.weight(layer + ".post_attention_layernorm.weight"), eps);
      Operand<TFloat32> gate = ops.silu(hook.project(projections.get(p++), m)); // [N, I]
      Operand<TFloat32> up = hook.project(projections.get(p++), m);
      h = tf.math.add(h, hook.project(projections.get(p++), tf.math.mul(gate, up)));
    }
    h = ops.rmsNorm(h, w.weight("model.norm.weight"), eps);
    String head = config.tiedEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight";
    return ops.head(h, w.weight(head), config.vocabSize(), hook);
  }
}
