package dev.lora4j.model;

import java.util.Arrays;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.math.Mean;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The building blocks the architectures share: norms, activations, causal attention with GQA and
 * rotary embeddings. Activations are kept 2-D ([N, features], N = batch * time) between blocks so
 * every projection is one MatMul.
 */
final class TransformerOps {
  private final Ops tf;
  private final Operand<TInt32> batch;
  private final Operand<TInt32> time;

  /** A causal mask [T, T]: 0 where a query may attend, a large negative number elsewhere. */
  private final Operand<TFloat32> causalMask;

  TransformerOps(Ops tf, Operand<TInt32> inputIds) {
    this.tf = tf;
    Operand<TInt32> shape = tf.shape(inputIds);
    this.batch =
        tf.squeeze(tf.slice(shape, tf.constant(new int[] {0}), tf.constant(new int[] {1})));
    this.time = tf.squeeze(tf.slice(shape, tf.constant(new int[] {1}), tf.constant(new int[] {1})));
    Operand<TFloat32> ones = tf.fill(tf.stack(Arrays.asList(time, time)), tf.constant(1f));
    Operand<TFloat32> lower = tf.linalg.bandPart(ones, tf.constant(-1), tf.constant(0));
    this.causalMask =
        tf.withName("causal_mask")
            .math
            .mul(tf.math.sub(tf.constant(1f), lower), tf.constant(-1e9f));
  }

  Operand<TInt32> time() {
    return time;
  }

  /** A 1-D shape tensor from dynamic dimensions (Operand) and static ones (Integer). */
  Operand<TInt32> dims(Object... dims) {
    java.util.List<Operand<TInt32>> parts = new java.util.ArrayList<>();
    for (Object d : dims) {
      if (d instanceof Integer i) {
        parts.add(tf.constant(i));
      } else {
        @SuppressWarnings("unchecked")
        Operand<TInt32> op = (Operand<TInt32>) d;
        parts.add(op);
      }
    }
    return tf.stack(parts);
  }

  /** [B, T, ...] embeddings flattened to [N, d]. */
  Operand<TFloat32> rows(Operand<TFloat32> x, int features) {
    return tf.reshape(x, tf.constant(new int[] {-1, features}));
  }

  /** LayerNorm with the biased variance, as torch.nn.LayerNorm. */
  Operand<TFloat32> layerNorm(
      Operand<TFloat32> x, Operand<TFloat32> weight, Operand<TFloat32> bias, double eps) {
    Operand<TInt32> lastAxis = tf.constant(-1);
    Operand<TFloat32> mean = tf.math.mean(x, lastAxis, Mean.keepDims(true));
    Operand<TFloat32> centered = tf.math.sub(x, mean);
    Operand<TFloat32> variance =
        tf.math.mean(tf.math.square(centered), lastAxis, Mean.keepDims(true));
    Operand<TFloat32> normed =
        tf.math.mul(centered, tf.math.rsqrt(tf.math.add(variance, tf.constant((float) eps))));
    return tf.math.add(tf.math.mul(normed, weight), bias);
  }

  /** RMSNorm: x * rsqrt(mean(x^2) + eps) * weight, as transformers' LlamaRMSNorm. */
  Operand<TFloat32> rmsNorm(Operand<TFloat32> x, Operand<TFloat32> weight, double eps) {
    Operand<TFloat32> meanSquare =
        tf.math.mean(tf.math.square(x), tf.constant(-1), Mean.keepDims(true));
    return tf.math.mul(
        tf.math.mul(x, tf.math.rsqrt(tf.math.add(meanSquare, tf.constant((float) eps)))), weight);
  }

  /**
   * GPT-2's gelu_new, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed as the identical x
   * sigmoid(x (c1 + c2 x^2)) with c1 = 2 sqrt(2/pi), c2 = 0.044715 c1 (0.5 (1 + tanh z) =
   * sigmoid(2z)): six ops instead of nine, and fewer in the backward pass, on the widest
   * activations of the model.
   */
  Operand<TFloat32> geluTanh(Operand<TFloat32> x) {
    double c1 = 2 * Math.sqrt(2.0 / Math.PI);
    Operand<TFloat32> slope =
        tf.math.add(
            tf.math.mul(tf.math.square(x), tf.constant((float) (0.044715 * c1))),
            tf.constant((float) c1));
    return tf.math.mul(x, tf.math.sigmoid(tf.math.mul(x, slope)));
  }

  /** The exact GELU: 0.5 x (1 + erf(x / sqrt(2))). */
  Operand<TFloat32> geluErf(Operand<TFloat32> x) {
    Operand<TFloat32> erf = tf.math.erf(tf.math.mul(x, tf.constant((float) (1 / Math.sqrt(2)))));
    return tf.math.mul(tf.math.mul(tf.constant(0.5f), x), tf.math.add(tf.constant(1f), erf));
  }

  Operand<TFloat32> silu(Operand<TFloat32> x) {
    return tf.math.mul(x, tf.math.sigmoid(x));
  }

  /** Rows [N, heads * hd] to heads [B, heads, T, hd]. */
  Operand<TFloat32> splitHeads(Operand<TFloat32> rows, int heads, int headDim) {
    Operand<TFloat32> bthd = tf.reshape(rows, dims(batch, time, heads, headDim));
    return tf.linalg.transpose(bthd, tf.constant(new int[] {0, 2, 1, 3}));
  }

  /** Heads [B, heads, T, hd] back to rows [N, heads * hd]. */
  Operand<TFloat32> mergeHeads(Operand<TFloat32> heads, int count, int headDim) {
    Operand<TFloat32> bthd = tf.linalg.transpose(heads, tf.constant(new int[] {0, 2, 1, 3}));
    return tf.reshape(bthd, tf.constant(new int[] {-1, count * headDim}));
  }

  /** cos and sin tables [T, hd] of the default RoPE for positions 0..T-1. */
  Operand<TFloat32>[] rotaryTables(int headDim, double theta) {
    float[] invFreq = new float[headDim / 2];
    for (int i = 0; i < invFreq.length; i++) {
      invFreq[i] = (float) (1.0 / Math.pow(theta, (2.0 * i) / headDim));
    }
    Operand<TFloat32> positions =
        tf.dtypes.cast(tf.range(tf.constant(0), time, tf.constant(1)), TFloat32.class);
    Operand<TFloat32> freqs =
        tf.math.mul(
            tf.expandDims(positions, tf.constant(1)),
            tf.expandDims(tf.constant(invFreq), tf.constant(0))); // [T, hd/2]
    Operand<TFloat32> emb = tf.concat(Arrays.asList(freqs, freqs), tf.constant(1)); // [T, hd]
    @SuppressWarnings("unchecked")
    Operand<TFloat32>[] tables =
        new Operand[] {
          tf.withName("rope_cos").math.cos(emb), tf.withName("rope_sin").math.sin(emb)
        };
    return tables;
  }

  /** q * cos + rotate_half(q) * sin, pairing dimension j with j + hd/2 (transformers' layout). */
  Operand<TFloat32> applyRotary(Operand<TFloat32> x, Operand<TFloat32> cos, Operand<TFloat32> sin) {
    var halves = tf.split(tf.constant(-1), x, 2L);
    Operand<TFloat32> rotated =
        tf.concat(
            Arrays.asList(tf.math.neg(halves.output().get(1)), halves.output().get(0)),
            tf.constant(-1));
    return tf.math.add(tf.math.mul(x, cos), tf.math.mul(rotated, sin));
  }

  /** Repeats each kv head [B, KV, T, hd] so query head h reads kv head h / (H / KV). */
  Operand<TFloat32> repeatKv(Operand<TFloat32> kv, int kvHeads, int groups, int headDim) {
    if (groups == 1) {
      return kv;
    }
    Operand<TFloat32> expanded = tf.expandDims(kv, tf.constant(2)); // [B, KV, 1, T, hd]
    Operand<TFloat32> tiled = tf.tile(expanded, tf.constant(new int[] {1, 1, groups, 1, 1}));
    return tf.reshape(tiled, dims(batch, kvHeads * groups, time, headDim));
  }

  /** Causal softmax attention over heads [B, H, T, hd]; returns [B, H, T, hd]. */
  Operand<TFloat32> causalAttention(
      Operand<TFloat32> q, Operand<TFloat32> k, Operand<TFloat32> v, int headDim) {
    Operand<TFloat32> scores =
        tf.train.batchMatMul(q, k, TFloat32.class, BatchMatMul.adjY(true)); // [B, H, T, T]
    scores = tf.math.mul(scores, tf.constant((float) (1.0 / Math.sqrt(headDim))));
    Operand<TFloat32> probs = tf.nn.softmax(tf.math.add(scores, causalMask));
    return tf.train.batchMatMul(probs, v, TFloat32.class);
  }

  /** [N, d] x [V, d]^T through the hook: the (tied or untied) output head, as [B, T, V]. */
  Operand<TFloat32> head(
      Operand<TFloat32> rows, Operand<TFloat32> weight, int vocab, ProjectionHook hook) {
    Operand<TFloat32> logits = hook.head(tf, rows, weight);
    return tf.withName("logits").reshape(logits, dims(batch, time, vocab));
  }

  /** Embedding lookup: ids [B, T] to rows [N, d]. */
  Operand<TFloat32> embed(Operand<TFloat32> table, Operand<TInt32> ids, int features) {
    return rows(tf.gather(table, ids, tf.constant(0)), features);
  }
}
