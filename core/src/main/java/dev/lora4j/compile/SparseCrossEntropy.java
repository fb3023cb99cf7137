package dev.lora4j.compile;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.TensorFlow;
import org.tensorflow.op.Ops;
import org.tensorflow.op.nn.SparseSoftmaxCrossEntropyWithLogits;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Per-token cross-entropy with integer labels in one kernel: TensorFlow's
 * SparseSoftmaxCrossEntropyWithLogits, which also computes its own gradient (softmax − one-hot) in
 * the forward pass. TF's C++ gradient registry has no entry for it (see
 * shared/notes/tensorflow-java.md), so one is registered here: d logits = d loss · backprop. This
 * replaces a log-softmax, a dense [tokens, vocab] one-hot, a product and a sum, and their
 * gradients: at GPT-2's vocabulary that is several passes over a 100 MB tensor per step.
 */
public final class SparseCrossEntropy {
  private SparseCrossEntropy() {}

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
   * -log softmax(logits)[label] for each row.
   *
   * @param logits [N, V]
   * @param labels [N]
   * @return [N]
   */
  public static Operand<TFloat32> perToken(
      Ops tf, Operand<TFloat32> logits, Operand<TInt32> labels) {
    ensureGradient();
    return tf.nn.sparseSoftmaxCrossEntropyWithLogits(logits, labels).loss();
  }
}
