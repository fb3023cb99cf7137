package dev.lora4j.model;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.types.TFloat32;

/**
 * Computes a projection for an architecture. The compiler answers with a frozen base projection or
 * a base plus an adapter; architectures know nothing about LoRA.
 */
@FunctionalInterface
public interface ProjectionHook {
  /**
   * @param x input rows [N, in]
   * @return output rows [N, out]
   */
  Operand<TFloat32> project(Projection projection, Operand<TFloat32> x);

  /**
   * The output head: rows [N, d] times the (tied or untied) head weight [V, d] transposed. The
   * compiler overrides it to choose the compute precision.
   */
  default Operand<TFloat32> head(Ops tf, Operand<TFloat32> rows, Operand<TFloat32> weight) {
    return tf.linalg.matMul(rows, weight, MatMul.transposeB(true));
  }
}
