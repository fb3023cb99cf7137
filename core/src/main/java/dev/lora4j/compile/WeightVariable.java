package dev.lora4j.compile;

import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
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

  /** A float32 variable named `name` with a `name_feed` placeholder and `name_set` assign op. */
  public static WeightVariable create(Ops tf, String name, long[] shape) {
    Variable<TFloat32> v = tf.withName(name).variable(Shape.of(shape), TFloat32.class);
    Placeholder<TFloat32> feed =
        tf.withName(name + "_feed").placeholder(TFloat32.class, Placeholder.shape(Shape.of(shape)));
    Assign<TFloat32> assign = tf.withName(name + "_set").assign(v, feed);
    return new WeightVariable(name, shape, v, feed, assign);
  }

  public long numel() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }
}
