package dev.lora4j.compile;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.TensorFlow;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Max;
import org.tensorflow.op.core.Sum;
import org.tensorflow.op.nn.SparseSoftmaxCrossEntropyWithLogits;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Per-token cross-entropy -log softmax(logits)[label] with integer labels, without a dense [tokens,
 * vocab] one-hot. Two implementations of the same function, picked by vocabulary size because each
 * is faster on one side (measured on the 2-core reference machine, forward + gradient in one run:
 * at vocab 5000 the composite takes 10 ms and the fused kernel 16 ms for 1016 rows; at 50257 the
 * fused kernel 64 ms and the composite 95 ms for 508 rows):
 *
 * <ul>
 *   <li>{@link #fused}: TensorFlow's SparseSoftmaxCrossEntropyWithLogits, one kernel that also
 *       computes its gradient (softmax − one-hot) in the forward pass; fewest passes over memory.
 *       TF's C++ gradient registry has no entry for it (see shared/notes/tensorflow-java.md), so
 *       one is registered here: d logits = d loss · backprop.
 *   <li>{@link #composite}: logsumexp(logits − max) − (logits − max)[label] from ops TensorFlow
 *       spreads over the cores (the fused kernel does not); more passes, so it loses once the
 *       logits no longer fit in cache.
 * </ul>
 */
public final class SparseCrossEntropy {
  private SparseCrossEntropy() {}

  /** Up to this vocabulary size the composite is used, above it the fused kernel. */
  static final int COMPOSITE_MAX_VOCAB = 16384;

  private static boolean registered;

  /** Registers the gradient once per process (a second registration would be refused by TF). */
  private static synchronized void ensureGradient() {
    if (registered) {
      return;
    }
    TensorFlow.registerCustomGradient(
        SparseSoftmaxCrossEntropyWithLogits.Inputs.class,
        (tf, op, gradOutputs) -> {
          // Only the loss output is differentiated; nobody takes gradients through backprop.
          Operand<?> backprop =
              ((SparseSoftmaxCrossEntropyWithLogits<?>) op.getOutputs()).backprop();
          @SuppressWarnings("unchecked")
          Operand<TFloat32> dLoss = (Operand<TFloat32>) gradOutputs.get(0);
          @SuppressWarnings("unchecked")
          Operand<TFloat32> dLogits =
              tf.math.mul(tf.expandDims(dLoss, tf.constant(-1)), (Operand<TFloat32>) backprop);
          return List.of(dLogits, tf.zerosLike(op.labels));
        });
    registered = true;
  }

  /**
   * -log softmax(logits)[label] for each row, by the implementation that is faster at this
   * vocabulary size.
   *
   * @param logits [N, V]
   * @param labels [N]
   * @return [N]
   */
  public static Operand<TFloat32> perToken(
      Ops tf, Operand<TFloat32> logits, Operand<TInt32> labels, int vocab) {
    return vocab <= COMPOSITE_MAX_VOCAB
        ? composite(tf, logits, labels, vocab)
        : fused(tf, logits, labels);
  }

  /** Per-token losses and d(Σ dPerToken · perToken) / d logits, built without autodiff. */
  public record WithGradient(Operand<TFloat32> perToken, Operand<TFloat32> dLogits) {}

  /**
   * The per-token loss and its gradient written by hand: d logits = dPerToken · (softmax −
   * one-hot). Autodiff of the composite form takes about five more passes over the [N, V] logits
   * (broadcast of the sum's gradient, the exp's product, a zero-filled scatter for the picked
   * logits, their sum); this is one product and an in-place scatter of N values.
   *
   * @param dPerToken [N], the gradient arriving at each row's loss
   */
  public static WithGradient withGradient(
      Ops tf,
      Operand<TFloat32> logits,
      Operand<TInt32> labels,
      int vocab,
      Operand<TFloat32> dPerToken) {
    if (vocab > COMPOSITE_MAX_VOCAB) {
      var fused = tf.nn.sparseSoftmaxCrossEntropyWithLogits(logits, labels);
      return new WithGradient(
          fused.loss(), tf.math.mul(fused.backprop(), tf.expandDims(dPerToken, tf.constant(-1))));
    }
    Operand<TInt32> lastAxis = tf.constant(1);
    Operand<TFloat32> shifted =
        tf.math.sub(logits, tf.max(logits, lastAxis, Max.keepDims(true))); // [N, V]
    Operand<TFloat32> exp = tf.math.exp(shifted);
    Operand<TFloat32> sum = tf.sum(exp, lastAxis); // [N]
    Operand<TInt32> flatIndex = flatIndex(tf, labels, vocab);
    Operand<TFloat32> picked =
        tf.gather(tf.reshape(shifted, tf.constant(new int[] {-1})), flatIndex, tf.constant(0));
    Operand<TFloat32> perToken = tf.math.sub(tf.math.log(sum), picked);
    Operand<TFloat32> softmaxTimesD =
        tf.math.mul(exp, tf.expandDims(tf.math.div(dPerToken, sum), tf.constant(-1))); // [N, V]
    Operand<TFloat32> dLogits =
        tf.reshape(
            tf.tensorScatterNdSub(
                tf.reshape(softmaxTimesD, tf.constant(new int[] {-1})),
                tf.expandDims(flatIndex, tf.constant(-1)),
                dPerToken),
            tf.shape(logits));
    return new WithGradient(perToken, dLogits);
  }

  /** row * V + label for each row: the label's position in the flattened [N * V] logits. */
  private static Operand<TInt32> flatIndex(Ops tf, Operand<TInt32> labels, int vocab) {
    Operand<TInt32> rows = tf.range(tf.constant(0), tf.size(labels), tf.constant(1));
    return tf.math.add(tf.math.mul(rows, tf.constant(vocab)), labels);
  }

  /** TensorFlow's fused kernel, with the registered gradient. */
  static Operand<TFloat32> fused(Ops tf, Operand<TFloat32> logits, Operand<TInt32> labels) {
    ensureGradient();
    return tf.nn.sparseSoftmaxCrossEntropyWithLogits(logits, labels).loss();
  }

  /** log Σ exp(logits − m) − (logits − m)[label], m the row max (a constant to the gradient). */
  static Operand<TFloat32> composite(
      Ops tf, Operand<TFloat32> logits, Operand<TInt32> labels, int vocab) {
    Operand<TInt32> lastAxis = tf.constant(1);
    Operand<TFloat32> rowMax = tf.stopGradient(tf.max(logits, lastAxis, Max.keepDims(true)));
    Operand<TFloat32> shifted = tf.math.sub(logits, rowMax); // [N, V]
    Operand<TFloat32> logSumExp =
        tf.math.log(tf.sum(tf.math.exp(shifted), lastAxis, Sum.keepDims(false))); // [N]
    // shifted[row, label] as a gather from the flat [N * V] tensor at row * V + label.
    Operand<TFloat32> picked =
        tf.gather(
            tf.reshape(shifted, tf.constant(new int[] {-1})),
            flatIndex(tf, labels, vocab),
            tf.constant(0));
    return tf.math.sub(logSumExp, picked);
  }
}
