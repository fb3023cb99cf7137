package dev.lora4j.model;

import org.tensorflow.Operand;
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
}
