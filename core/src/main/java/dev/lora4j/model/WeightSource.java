package dev.lora4j.model;

import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/** The frozen non-projection weights (embeddings, norms) of a compiled model, by checkpoint key. */
@FunctionalInterface
public interface WeightSource {
  Operand<TFloat32> weight(String key);
}
