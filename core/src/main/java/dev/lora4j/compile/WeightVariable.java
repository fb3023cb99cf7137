package dev.lora4j.compile;

import org.tensorflow.op.core.Assign;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/**
 * A float32 graph variable with the placeholder and assign op that set it from the host.
 *
 * @param name the checkpoint key (base weights) or PEFT-style key (adapter factors)
 */
public record WeightVariable(
    String name,
    long[] shape,
    Variable<TFloat32> variable,
    Placeholder<TFloat32> feed,
    Assign<TFloat32> assign) {

  public long numel() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }
}
