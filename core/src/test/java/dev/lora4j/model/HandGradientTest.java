package dev.lora4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * HandGradient's backward replaces autodiff for the ops it makes, and only for those: an IdentityN
 * built elsewhere keeps the pass-through gradient, in the same graph and after registration.
 */
class HandGradientTest {
  @Test
  void handWrittenBackwardIsUsedAndOtherIdentityNPassGradientsThrough() {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> x = tf.constant(new float[] {1f, 2f, 3f});
      // The value is x², its declared gradient deliberately 10 (not 2x), to see which one is used.
      Operand<TFloat32> square =
          HandGradient.apply(
              tf,
              tf.math.square(x),
              List.of(x),
              (ops, dy) -> List.of(ops.math.mul(dy, ops.constant(10f))));
      @SuppressWarnings("unchecked")
      Operand<TFloat32> plain =
          (Operand<TFloat32>)
              tf.identityN(List.<Operand<?>>of(tf.math.mul(x, tf.constant(3f)), x)).output().get(0);
      Output<?> dSquare = tf.gradients(tf.sum(square, tf.constant(0)), List.of(x)).dy(0);
      Output<?> dPlain = tf.gradients(tf.sum(plain, tf.constant(0)), List.of(x)).dy(0);
      try (Result r = s.runner().fetch(square).fetch(dSquare).fetch(dPlain).run()) {
        assertArrayEquals(new float[] {1f, 4f, 9f}, values(r.get(0)), 0f);
        assertArrayEquals(new float[] {10f, 10f, 10f}, values(r.get(1)), 0f);
        assertArrayEquals(new float[] {3f, 3f, 3f}, values(r.get(2)), 0f);
      }
      HandGradient.release(g);
    }
  }

  private static float[] values(org.tensorflow.Tensor t) {
    TFloat32 f = (TFloat32) t;
    float[] v = new float[(int) f.size()];
    f.asRawTensor().data().asFloats().read(v);
    return v;
  }
}
