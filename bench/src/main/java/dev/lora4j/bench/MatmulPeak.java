package dev.lora4j.bench;

import dev.lora4j.compile.CompileOptions;
import dev.lora4j.model.Projection;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.family.TFloating;

/**
 * This CPU's matmul peak as TensorFlow reaches it: GFLOP/s of the bench model's own big matmul
 * shapes (and 1024³), operands already in variables so nothing but the MatMul kernel is timed; and
 * the matmul FLOPs of a step, to express a step time as a fraction of that peak.
 */
public final class MatmulPeak {
  private MatmulPeak() {}

  /**
   * [m, k] x [k, n] shapes: the widest projection (the MLP's up projection), the head on the scored
   * rows, and a square 1024.
   */
  static List<int[]> shapes(BenchConfig config, int seqLen) {
    int rows = config.batch * seqLen;
    Projection widest =
        config.projections().stream()
            .max(java.util.Comparator.comparingLong(p -> (long) p.in() * p.out()))
            .orElseThrow();
    return List.of(
        new int[] {rows, widest.in(), widest.out()},
        new int[] {
          config.batch * (seqLen - 1), config.model.hiddenSize(), config.model.vocabSize()
        },
        new int[] {1024, 1024, 1024});
  }

  /** The best median GFLOP/s over {@link #shapes}, in the given precision. */
  public static double gflops(BenchConfig config, int seqLen, CompileOptions.Precision precision) {
    double best = 0;
    for (int[] s : shapes(config, seqLen)) {
      best = Math.max(best, gflops(s[0], s[1], s[2], precision));
    }
    return best;
  }

  /** Median GFLOP/s of one [m, k] x [k, n] MatMul over 10 runs after 3 warm-ups. */
  static double gflops(int m, int k, int n, CompileOptions.Precision precision) {
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      Class<? extends TFloating> type =
          precision == CompileOptions.Precision.BF16 ? TBfloat16.class : TFloat32.class;
      Variable<? extends TFloating> x = uniform(tf, type, m, k);
      Variable<? extends TFloating> w = uniform(tf, type, k, n);
      @SuppressWarnings({"unchecked", "rawtypes"})
      Operand<?> product = tf.linalg.matMul((Operand) x, (Operand) w);
      // Fetch one element so the product is computed but not copied to the host.
      Operand<?> corner =
          tf.slice(product, tf.constant(new int[] {0, 0}), tf.constant(new int[] {1, 1}));
      session.initialize();
      double[] millis = new double[10];
      for (int i = -3; i < millis.length; i++) {
        long t0 = System.nanoTime();
        session.runner().fetch(corner).run().close();
        if (i >= 0) {
          millis[i] = (System.nanoTime() - t0) / 1e6;
        }
      }
      Arrays.sort(millis);
      return 2.0 * m * k * n / (millis[millis.length / 2] / 1e3) / 1e9;
    }
  }

  private static <T extends TFloating> Variable<T> uniform(
      Ops tf, Class<T> type, int rows, int cols) {
    Operand<TFloat32> values =
        tf.random.randomUniform(tf.constant(new int[] {rows, cols}), TFloat32.class);
    return tf.variable(tf.dtypes.cast(values, type));
  }

  /**
   * Matmul FLOPs of one step of a mode: F = projections (2 · tokens · in · out each) + head on the
   * scored rows + attention (QKᵀ and PV); a forward pass is F, a LoRA step 2F (the backward pass
   * computes activation gradients only; the rank-r products are left out), a full step 3F (also the
   * weight gradients).
   */
  public static double stepFlops(BenchConfig config, int seqLen, String mode) {
    double tokens = (double) config.batch * seqLen;
    double weights = 0;
    for (Projection p : config.projections()) {
      weights += (double) p.in() * p.out();
    }
    double projections = 2 * tokens * weights;
    double head =
        2.0 * config.batch * (seqLen - 1) * config.model.hiddenSize() * config.model.vocabSize();
    double attention =
        config.model.numLayers()
            * 2
            * (2.0 * config.batch * seqLen * seqLen * config.attentionWidth());
    double forward = projections + head + attention;
    return switch (mode) {
      case "forward", "merged" -> forward;
      case "lora" -> 2 * forward;
      case "full" -> 3 * forward;
      default -> Double.NaN;
    };
  }
}
