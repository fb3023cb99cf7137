package dev.lora4j.model;

import java.util.Arrays;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.math.Mean;
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

  /**
   * A causal mask [T, P + T]: 0 where a query may attend, a large negative number elsewhere; P = 0
   * outside incremental decoding.
   */
  private final Operand<TFloat32> causalMask;

  /** Position of the first row: 0, or the cached past's length when decoding. */
  private final Operand<TInt32> offset;

  /** Past keys and values when decoding incrementally, else null. */
  private final KeyValueCache cache;

  TransformerOps(Ops tf, Operand<TInt32> inputIds) {
    this(tf, inputIds, null);
  }

  TransformerOps(Ops tf, Operand<TInt32> inputIds, KeyValueCache cache) {
    this.tf = tf;
    this.cache = cache;
    Operand<TInt32> shape = tf.shape(inputIds);
    this.batch =
        tf.squeeze(tf.slice(shape, tf.constant(new int[] {0}), tf.constant(new int[] {1})));
    this.time = tf.squeeze(tf.slice(shape, tf.constant(new int[] {1}), tf.constant(new int[] {1})));
    this.offset = cache == null ? tf.constant(0) : cache.offset();
    Operand<TInt32> keys = cache == null ? time : tf.math.add(offset, time);
    Operand<TFloat32> ones = tf.fill(tf.stack(Arrays.asList(time, keys)), tf.constant(1f));
    // Query i (at position offset + i) may read keys 0 .. offset + i.
    Operand<TFloat32> lower =
        tf.linalg.bandPart(ones, tf.constant(-1), cache == null ? tf.constant(0) : offset);
    this.causalMask =
        tf.withName("causal_mask")
            .math
            .mul(tf.math.sub(tf.constant(1f), lower), tf.constant(-1e9f));
  }

  /** The rows' positions, [T]: offset .. offset + T - 1. */
  Operand<TInt32> positions() {
    return tf.range(offset, tf.math.add(offset, time), tf.constant(1));
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

  /**
   * LayerNorm with the biased variance, as torch.nn.LayerNorm, with its closed-form gradient: for
   * x̂ = (x − μ) r and g = dy · w, dx = r (g − mean(g) − x̂ mean(g x̂)), dw = Σ dy x̂, db = Σ dy.
   */
  Operand<TFloat32> layerNorm(
      Operand<TFloat32> x, Operand<TFloat32> weight, Operand<TFloat32> bias, double eps) {
    Operand<TInt32> lastAxis = tf.constant(-1);
    Operand<TFloat32> mean = tf.math.mean(x, lastAxis, Mean.keepDims(true));
    Operand<TFloat32> centered = tf.math.sub(x, mean);
    Operand<TFloat32> variance =
        tf.math.mean(tf.math.square(centered), lastAxis, Mean.keepDims(true));
    Operand<TFloat32> rstd = tf.math.rsqrt(tf.math.add(variance, tf.constant((float) eps)));
    Operand<TFloat32> normed = tf.math.mul(centered, rstd);
    Operand<TFloat32> y = tf.math.add(tf.math.mul(normed, weight), bias);
    return HandGradient.apply(
        tf,
        y,
        List.of(x, weight, bias),
        (g, dy) -> {
          Operand<TFloat32> scaled = g.math.mul(dy, weight);
          Operand<TFloat32> meanScaled = g.math.mean(scaled, lastAxis, Mean.keepDims(true));
          Operand<TFloat32> meanProjection =
              g.math.mean(g.math.mul(scaled, normed), lastAxis, Mean.keepDims(true));
          Operand<TFloat32> dx =
              g.math.mul(
                  g.math.sub(g.math.sub(scaled, meanScaled), g.math.mul(normed, meanProjection)),
                  rstd);
          return List.of(dx, sumRows(g, g.math.mul(dy, normed), weight), sumRows(g, dy, weight));
        });
  }

  /**
   * RMSNorm: x * rsqrt(mean(x^2) + eps) * weight, as transformers' LlamaRMSNorm, with its
   * closed-form gradient: for x̂ = x r and g = dy · w, dx = r (g − x̂ mean(g x̂)), dw = Σ dy x̂.
   */
  Operand<TFloat32> rmsNorm(Operand<TFloat32> x, Operand<TFloat32> weight, double eps) {
    Operand<TInt32> lastAxis = tf.constant(-1);
    Operand<TFloat32> meanSquare = tf.math.mean(tf.math.square(x), lastAxis, Mean.keepDims(true));
    Operand<TFloat32> rstd = tf.math.rsqrt(tf.math.add(meanSquare, tf.constant((float) eps)));
    Operand<TFloat32> normed = tf.math.mul(x, rstd);
    Operand<TFloat32> y = tf.math.mul(normed, weight);
    return HandGradient.apply(
        tf,
        y,
        List.of(x, weight),
        (g, dy) -> {
          Operand<TFloat32> scaled = g.math.mul(dy, weight);
          Operand<TFloat32> meanProjection =
              g.math.mean(g.math.mul(scaled, normed), lastAxis, Mean.keepDims(true));
          Operand<TFloat32> dx =
              g.math.mul(g.math.sub(scaled, g.math.mul(normed, meanProjection)), rstd);
          return List.of(dx, sumRows(g, g.math.mul(dy, normed), weight));
        });
  }

  /** Σ over every axis but the last of t, shaped like the per-feature weight. */
  private static Operand<TFloat32> sumRows(Ops g, Operand<TFloat32> t, Operand<TFloat32> weight) {
    Operand<TFloat32> rows =
        g.reshape(t, g.concat(List.of(g.constant(new int[] {-1}), g.shape(weight)), g.constant(0)));
    return g.sum(rows, g.constant(0));
  }

  /**
   * GPT-2's gelu_new, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed as the identical x
   * sigmoid(x (c1 + c2 x^2)) with c1 = 2 sqrt(2/pi), c2 = 0.044715 c1 (0.5 (1 + tanh z) =
   * sigmoid(2z)): six ops instead of nine on the widest activations of the model. Its gradient, by
   * hand: with s the sigmoid and y the output, dy/dx = s + x s (1 − s)(c1 + 3 c2 x²) = s (1 + (x −
   * y)(c1 + 3 c2 x²)), seven ops reusing x², s and y.
   */
  Operand<TFloat32> geluTanh(Operand<TFloat32> x) {
    double c1 = 2 * Math.sqrt(2.0 / Math.PI);
    double c2 = 0.044715 * c1;
    Operand<TFloat32> square = tf.math.square(x);
    Operand<TFloat32> slope =
        tf.math.add(tf.math.mul(square, tf.constant((float) c2)), tf.constant((float) c1));
    Operand<TFloat32> sigmoid = tf.math.sigmoid(tf.math.mul(x, slope));
    Operand<TFloat32> y = tf.math.mul(x, sigmoid);
    return HandGradient.apply(
        tf,
        y,
        List.of(x),
        (g, dy) -> {
          Operand<TFloat32> slopeDerivative =
              g.math.add(g.math.mul(square, g.constant((float) (3 * c2))), g.constant((float) c1));
          Operand<TFloat32> derivative =
              g.math.mul(
                  sigmoid,
                  g.math.add(g.math.mul(g.math.sub(x, y), slopeDerivative), g.constant(1f)));
          return List.of(g.math.mul(dy, derivative));
        });
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

  /**
   * A fused projection's rows [N, 3 * heads * hd] (q, then k, then v) to three [B, heads, T, hd]
   * tensors with one transpose, to [3, B, heads, T, hd]; splitting that leading axis shares the
   * buffer, where splitting the rows first would copy them and then need three transposes.
   */
  List<Operand<TFloat32>> splitFusedHeads(Operand<TFloat32> rows, int heads, int headDim) {
    Operand<TFloat32> parts = tf.reshape(rows, dims(batch, time, 3, heads, headDim));
    Operand<TFloat32> leading = tf.linalg.transpose(parts, tf.constant(new int[] {2, 0, 3, 1, 4}));
    List<Operand<TFloat32>> out = new java.util.ArrayList<>();
    for (Operand<TFloat32> part : tf.split(tf.constant(0), leading, 3L).output()) {
      out.add(tf.reshape(part, dims(batch, heads, time, headDim)));
    }
    return out;
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
    Operand<TFloat32> positions = tf.dtypes.cast(positions(), TFloat32.class);
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

  /**
   * Causal softmax attention over heads [B, H, T, hd]; returns [B, H, T, hd]. The two products are
   * Einsums over [B*H, T, hd], not BatchMatMuls: on the CPU, TensorFlow 2.18 hands Einsum to oneDNN
   * but runs BatchMatMulV3 through its own kernel, about half as fast at attention's shapes ([128,
   * 64] x [64, 128] per head: ~100-130 vs ~60 GFLOP/s measured); Einsum's gradient is Einsums too.
   */
  Operand<TFloat32> causalAttention(
      Operand<TFloat32> q, Operand<TFloat32> k, Operand<TFloat32> v, int headDim) {
    return causalAttention(q, k, v, headDim, 1);
  }

  /**
   * Grouped-query causal attention: q [B, KV * G, T, hd], k and v [B, KV, T, hd], query head h
   * reading key/value head h / G (transformers' repeat_kv); returns [B, KV * G, T, hd]. The G query
   * heads of a group are stacked as G * T rows against their one k and v ([B*KV, G*T, hd] x [B*KV,
   * T, hd]), so k and v are never copied G times and their gradients need no sum over copies.
   */
  Operand<TFloat32> causalAttention(
      Operand<TFloat32> q, Operand<TFloat32> k, Operand<TFloat32> v, int headDim, int groups) {
    if (cache != null) {
      List<Operand<TFloat32>> pastAndNew = cache.extend(k, v);
      k = pastAndNew.get(0);
      v = pastAndNew.get(1);
    }
    Operand<TInt32> keyLength = cache == null ? time : tf.math.add(offset, time);
    Operand<TInt32> perKvHead = dims(-1, keyLength, headDim);
    Operand<TInt32> groupRows =
        groups == 1
            ? dims(-1, time, headDim)
            : dims(-1, tf.math.mul(time, tf.constant(groups)), headDim);
    // The 1/sqrt(hd) scale on q rather than on the scores: half the elements when T = 2 hd, and
    // the same numbers when hd is a power of four (the scale is then a power of two).
    Operand<TFloat32> scaledQ = tf.math.mul(q, tf.constant((float) (1.0 / Math.sqrt(headDim))));
    Operand<TFloat32> scores =
        tf.linalg.einsum(
            List.of(tf.reshape(scaledQ, groupRows), tf.reshape(k, perKvHead)),
            "bqd,bkd->bqk"); // [B*KV, G*T, P+T]
    Operand<TFloat32> masked =
        groups == 1
            ? tf.math.add(scores, causalMask)
            : tf.reshape(
                tf.math.add(tf.reshape(scores, dims(-1, time, keyLength)), causalMask),
                tf.shape(scores));
    Operand<TFloat32> probs = tf.nn.softmax(masked);
    Operand<TFloat32> attended =
        tf.linalg.einsum(List.of(probs, tf.reshape(v, perKvHead)), "bqk,bkd->bqd");
    return tf.reshape(attended, dims(batch, -1, time, headDim));
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
