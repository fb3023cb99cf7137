package dev.lora4j.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.ndarray.index.Indices;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * TensorFlow's symbolic gradients of every building block the architectures use, against central
 * finite differences: autodiff's, the hand-written ones of the norms and gelu_new (HandGradient),
 * and the custom gradient lora4j registers for SparseSoftmaxCrossEntropyWithLogits (the loss);
 * embeddings are GatherV2 on a variable (no ResourceGather). The check also guards a trap found
 * here: TF's C++ LogSoftmax gradient sums over axis 1 only, so it is wrong on 3-D logits; the
 * log-softmax case runs it on 2-D rows.
 */
class OpGradientsTest {
  interface Block {
    Operand<TFloat32> apply(Ops tf, TransformerOps ops, Operand<TFloat32> x);
  }

  static final float[] WEIGHT = {1, 2, 0.5f, 1, 1, -1, 1, 3};

  static Stream<Arguments> blocks() {
    Map<String, Block> blocks = new java.util.LinkedHashMap<>();
    blocks.put(
        "layer norm",
        (tf, ops, x) -> ops.layerNorm(x, tf.constant(WEIGHT), tf.constant(WEIGHT), 1e-5));
    blocks.put("rms norm", (tf, ops, x) -> ops.rmsNorm(x, tf.constant(WEIGHT), 1e-6));
    blocks.put("gelu tanh", (tf, ops, x) -> ops.geluTanh(x));
    blocks.put("gelu erf", (tf, ops, x) -> ops.geluErf(x));
    blocks.put("silu", (tf, ops, x) -> ops.silu(x));
    blocks.put("bias add", (tf, ops, x) -> tf.math.mul(tf.nn.biasAdd(x, tf.constant(WEIGHT)), x));
    blocks.put("matmul x x^T", (tf, ops, x) -> tf.linalg.matMul(x, x, MatMul.transposeB(true)));
    blocks.put(
        "split heads and merge", (tf, ops, x) -> ops.mergeHeads(ops.splitHeads(x, 2, 4), 2, 4));
    blocks.put(
        "causal attention",
        (tf, ops, x) -> {
          Operand<TFloat32> q = ops.splitHeads(x, 2, 4);
          Operand<TFloat32> k = ops.splitHeads(tf.math.mul(x, tf.constant(0.5f)), 2, 4);
          return ops.mergeHeads(ops.causalAttention(q, k, tf.math.square(q), 4), 2, 4);
        });
    blocks.put(
        "grouped kv heads with rotary",
        (tf, ops, x) -> {
          // 4 query heads of 2 reading 2 key/value heads: heads 0, 1 read kv 0; heads 2, 3 kv 1.
          Operand<TFloat32>[] rope = ops.rotaryTables(2, 10000);
          Operand<TFloat32> q = ops.applyRotary(ops.splitHeads(x, 4, 2), rope[0], rope[1]);
          Operand<TFloat32> kv =
              ops.applyRotary(
                  ops.splitHeads(tf.stridedSlice(x, Indices.all(), Indices.sliceTo(4)), 2, 2),
                  rope[0],
                  rope[1]);
          return ops.mergeHeads(ops.causalAttention(q, kv, tf.math.square(kv), 2, 2), 4, 2);
        });
    blocks.put(
        "fused qkv split",
        (tf, ops, x) -> {
          var parts = tf.split(tf.constant(1), x, 2L);
          return tf.math.mul(parts.output().get(0), parts.output().get(1));
        });
    blocks.put(
        "layer norm: input, weight and bias (hand-written gradient)",
        (tf, ops, x) ->
            ops.layerNorm(
                x,
                tf.stridedSlice(x, Indices.at(0), Indices.all()),
                tf.math.mul(tf.stridedSlice(x, Indices.at(1), Indices.all()), tf.constant(0.5f)),
                1e-5));
    blocks.put(
        "rms norm: input and weight (hand-written gradient)",
        (tf, ops, x) -> ops.rmsNorm(x, tf.stridedSlice(x, Indices.at(2), Indices.all()), 1e-6));
    blocks.put(
        "fused q/k/v rows to heads, attention, merge",
        (tf, ops, x) -> {
          Operand<TFloat32> qkv =
              tf.concat(
                  List.of(
                      x,
                      tf.math.mul(
                          tf.stridedSlice(x, Indices.all(), Indices.sliceTo(4)),
                          tf.constant(0.5f))),
                  tf.constant(1)); // [6, 12] = q | k | v, 2 heads of 2
          List<Operand<TFloat32>> heads = ops.splitFusedHeads(qkv, 2, 2);
          return ops.mergeHeads(
              ops.causalAttention(heads.get(0), heads.get(1), heads.get(2), 2), 2, 2);
        });
    blocks.put(
        "embedding gather",
        (tf, ops, x) ->
            tf.gather(x, tf.constant(new int[][] {{0, 5, 5}, {2, 1, 0}}), tf.constant(0)));
    blocks.put(
        "next-token loss on 2-D log-softmax rows",
        (tf, ops, x) -> {
          Operand<TFloat32> logits = tf.reshape(x, tf.constant(new int[] {2, 3, 8}));
          Operand<TFloat32> predicted =
              tf.stridedSlice(logits, Indices.all(), Indices.sliceTo(-1), Indices.all());
          Operand<TFloat32> logProbs =
              tf.reshape(
                  tf.nn.logSoftmax(tf.reshape(predicted, tf.constant(new int[] {-1, 8}))),
                  tf.shape(predicted));
          Operand<TFloat32> oneHot =
              tf.oneHot(
                  tf.constant(new int[][] {{1, 2}, {3, 7}}),
                  tf.constant(8),
                  tf.constant(1f),
                  tf.constant(0f));
          return tf.sum(tf.math.mul(logProbs, oneHot), tf.constant(-1));
        });
    blocks.put(
        "next-token loss: sparse cross-entropy",
        (tf, ops, x) ->
            dev.lora4j.compile.SparseCrossEntropy.withGradient(
                    tf,
                    tf.reshape(x, tf.constant(new int[] {-1, 8})),
                    tf.constant(new int[] {1, 2, 3, 7, 0, 5}))
                .perToken());
    return blocks.entrySet().stream().map(e -> Arguments.of(e.getKey(), e.getValue()));
  }

  /** gelu_new in its sigmoid form equals the tanh formula of transformers (float64) to 1e-6. */
  @org.junit.jupiter.api.Test
  void geluTanhEqualsTheTanhFormula() {
    float[] xs = new float[1601];
    for (int i = 0; i < xs.length; i++) {
      xs[i] = -8f + i * 0.01f;
    }
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Placeholder<TFloat32> x =
          tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(1, xs.length)));
      TransformerOps ops =
          new TransformerOps(tf, tf.zeros(tf.constant(new int[] {1, 1}), TInt32.class));
      float[] got = run(s, x, xs, ops.geluTanh(x));
      double worst = 0;
      for (int i = 0; i < xs.length; i++) {
        double v = xs[i];
        double want =
            0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
        worst = Math.max(worst, Math.abs(got[i] - want) / Math.max(1, Math.abs(want)));
      }
      assertTrue(worst <= 1e-6, "largest relative difference " + worst);
    }
  }

  /**
   * Grouped-query attention equals plain attention over k and v copied to every query head of their
   * group (transformers' repeat_kv: query head h reads key/value head h / G).
   */
  @org.junit.jupiter.api.Test
  void groupedAttentionEqualsAttentionOverRepeatedKeyValueHeads() {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Placeholder<TFloat32> x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(6, 12)));
      TransformerOps ops =
          new TransformerOps(tf, tf.zeros(tf.constant(new int[] {2, 3}), TInt32.class));
      // 6 query heads of 2 in 3 groups of 2 over 3 key/value heads (from other columns of x).
      Operand<TFloat32> q = ops.splitHeads(x, 6, 2);
      Operand<TFloat32> k =
          ops.splitHeads(tf.stridedSlice(x, Indices.all(), Indices.slice(6, 12)), 3, 2);
      Operand<TFloat32> v = tf.math.square(k);
      Operand<TFloat32> grouped = ops.causalAttention(q, k, v, 2, 2);
      Operand<TInt32> perQueryHead = tf.constant(new int[] {0, 0, 1, 1, 2, 2});
      Operand<TFloat32> repeated =
          ops.causalAttention(
              q,
              tf.gather(k, perQueryHead, tf.constant(1)),
              tf.gather(v, perQueryHead, tf.constant(1)),
              2);
      float[] point = new float[6 * 12];
      Random random = new Random(3);
      for (int i = 0; i < point.length; i++) {
        point[i] = (float) random.nextGaussian();
      }
      float[] want = run(s, x, point, repeated);
      float[] got = run(s, x, point, grouped);
      for (int i = 0; i < want.length; i++) {
        assertTrue(Math.abs(want[i] - got[i]) <= 1e-6, i + ": " + got[i] + " vs " + want[i]);
      }
    }
  }

  @ParameterizedTest(name = "{0}: symbolic gradient equals finite differences")
  @MethodSource("blocks")
  void gradientMatchesFiniteDifferences(String name, Block block) {
    int rows = 6;
    int cols = 8;
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Placeholder<TFloat32> x =
          tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(rows, cols)));
      TransformerOps ops =
          new TransformerOps(tf, tf.zeros(tf.constant(new int[] {2, 3}), TInt32.class));
      Operand<TFloat32> y = block.apply(tf, ops, x);
      Random random = new Random(1);
      float[] weights = new float[run(s, x, new float[rows * cols], y).length];
      for (int i = 0; i < weights.length; i++) {
        weights[i] = (float) random.nextGaussian();
      }
      // A random projection of the output makes a scalar whose gradient checks every element.
      Operand<TFloat32> scalar =
          tf.sum(
              tf.math.mul(tf.reshape(y, tf.constant(new int[] {-1})), tf.constant(weights)),
              tf.constant(0));
      Operand<TFloat32> gradient = tf.gradients(scalar, List.of(x)).dy(0);
      float[] point = new float[rows * cols];
      for (int i = 0; i < point.length; i++) {
        point[i] = (float) random.nextGaussian();
      }
      float[] symbolic = run(s, x, point, gradient);
      double maxError = 0;
      double maxGradient = 0;
      float eps = 1e-2f;
      for (int j = 0; j < point.length; j++) {
        float[] plus = point.clone();
        plus[j] += eps;
        float[] minus = point.clone();
        minus[j] -= eps;
        double numeric = (run(s, x, plus, scalar)[0] - run(s, x, minus, scalar)[0]) / (2 * eps);
        maxError = Math.max(maxError, Math.abs(numeric - symbolic[j]));
        maxGradient = Math.max(maxGradient, Math.abs(numeric));
      }
      assertTrue(maxGradient > 0, name + ": the gradient must not vanish");
      assertTrue(
          maxError <= 2e-3 * Math.max(1, maxGradient),
          name + ": max error " + maxError + " (max gradient " + maxGradient + ")");
    }
  }

  private static float[] run(
      Session s, Placeholder<TFloat32> x, float[] values, Operand<TFloat32> out) {
    try (TFloat32 t = TFloat32.tensorOf(x.shape(), DataBuffers.of(values, true, false));
        Result r = s.runner().feed(x, t).fetch(out).run()) {
      TFloat32 o = (TFloat32) r.get(0);
      float[] v = new float[(int) o.size()];
      o.asRawTensor().data().asFloats().read(v);
      return v;
    }
  }
}
