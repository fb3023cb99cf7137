package dev.lora4j.compile;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * The cross-entropy, differentiated by autodiff or by hand, gives -log softmax(logits)[label] and
 * its gradient softmax − one-hot (float64 reference).
 */
class SparseCrossEntropyTest {
  static final int ROWS = 6;
  static final int VOCAB = 40;

  /** Per-row loss and d(Σ weights · loss) / d logits. */
  interface Implementation {
    Operand<?>[] apply(Ops tf, Operand<TFloat32> logits, Operand<TFloat32> weights);
  }

  /** A loss function whose gradient comes from TensorFlow's autodiff. */
  interface LossFunction {
    Operand<TFloat32> apply(Ops tf, Operand<TFloat32> logits);
  }

  static Implementation autodiff(LossFunction loss) {
    return (tf, logits, weights) -> {
      Operand<TFloat32> perRow = loss.apply(tf, logits);
      Operand<TFloat32> weighted = tf.sum(tf.math.mul(perRow, weights), tf.constant(0));
      return new Operand<?>[] {perRow, tf.gradients(weighted, List.of(logits)).dy(0)};
    };
  }

  static Implementation byHand() {
    return (tf, logits, weights) -> {
      SparseCrossEntropy.WithGradient ce =
          SparseCrossEntropy.withGradient(tf, logits, tf.constant(LABELS));
      Operand<TFloat32> dLogits =
          tf.math.mul(ce.softmaxMinusOneHot(), tf.expandDims(weights, tf.constant(-1)));
      return new Operand<?>[] {ce.perToken(), dLogits};
    };
  }

  static final int[] LABELS = {0, 39, 7, 7, 21, 3};

  static float[] logits() {
    Random random = new Random(3);
    float[] v = new float[ROWS * VOCAB];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (random.nextGaussian() * 4);
    }
    return v;
  }

  /** {loss per row, d sum(weights · loss) / d logits} of one implementation. */
  static float[][] run(Implementation implementation, float[] values, float[] weights) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      var x = tf.placeholder(TFloat32.class);
      Operand<TFloat32> logits = tf.reshape(x, tf.constant(new int[] {ROWS, VOCAB}));
      Operand<?>[] outputs = implementation.apply(tf, logits, tf.constant(weights));
      try (TFloat32 input =
              TFloat32.tensorOf(Shape.of(values.length), DataBuffers.of(values, true, false));
          Result r = s.runner().feed(x, input).fetch(outputs[0]).fetch(outputs[1]).run()) {
        return new float[][] {
          HostTensors.toArray((TFloat32) r.get(0)), HostTensors.toArray((TFloat32) r.get(1))
        };
      }
    }
  }

  @Test
  void everyImplementationEqualsTheFloat64Formula() {
    assertEveryImplementationMatchesFloat64(logits());
  }

  /**
   * Rows where a naive softmax would fail: the label's probability underflows float32 (a loss of
   * ~300 nats), logits shifted by ±1000, all logits equal, and the label far ahead of the rest.
   */
  @Test
  void extremeRowsStayExact() {
    float[] values = logits();
    values[0] = -150f; // row 0: label 0 far behind logit 5
    values[5] = 150f;
    for (int v = 0; v < VOCAB; v++) {
      values[VOCAB + v] = 0f; // row 1: uniform, loss log V
      values[2 * VOCAB + v] += 1000f;
      values[3 * VOCAB + v] -= 1000f;
    }
    values[4 * VOCAB + 21] = 80f; // row 4: label 21 far ahead, loss ~ 39 e^-80
    assertEveryImplementationMatchesFloat64(values);
  }

  static void assertEveryImplementationMatchesFloat64(float[] values) {
    float[] weights = {1, 0.5f, 2, -1, 0.25f, 3};
    double[] wantLoss = new double[ROWS];
    double[] wantGradient = new double[ROWS * VOCAB];
    for (int r = 0; r < ROWS; r++) {
      double max = Double.NEGATIVE_INFINITY;
      for (int v = 0; v < VOCAB; v++) {
        max = Math.max(max, values[r * VOCAB + v]);
      }
      double sum = 0;
      for (int v = 0; v < VOCAB; v++) {
        sum += Math.exp(values[r * VOCAB + v] - max);
      }
      wantLoss[r] = Math.log(sum) + max - values[r * VOCAB + LABELS[r]];
      for (int v = 0; v < VOCAB; v++) {
        double softmax = Math.exp(values[r * VOCAB + v] - max) / sum;
        wantGradient[r * VOCAB + v] = weights[r] * (softmax - (v == LABELS[r] ? 1 : 0));
      }
    }
    List<Implementation> implementations =
        List.of(
            autodiff(
                (tf, l) -> SparseCrossEntropy.withGradient(tf, l, tf.constant(LABELS)).perToken()),
            byHand());
    for (int i = 0; i < implementations.size(); i++) {
      float[][] got = run(implementations.get(i), values, weights);
      for (int r = 0; r < ROWS; r++) {
        assertEquals(wantLoss[r], got[0][r], 2e-5 * Math.max(1, wantLoss[r]), "loss " + i);
      }
      for (int j = 0; j < wantGradient.length; j++) {
        assertEquals(wantGradient[j], got[1][j], 2e-6, "gradient " + i + " at " + j);
      }
    }
  }
}
