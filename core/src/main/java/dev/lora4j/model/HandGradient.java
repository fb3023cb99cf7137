package dev.lora4j.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.ExecutionEnvironment;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.TensorFlow;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.IdentityN;
import org.tensorflow.types.TFloat32;

/**
 * A function of a few tensors whose gradient is written by hand instead of derived by autodiff, for
 * the element-wise blocks (norms, activations) where autodiff's backward pass takes several more
 * passes over the activations than the closed form.
 *
 * <p>How, with TensorFlow's graph autodiff only: the output is {@code IdentityN(StopGradient(f(x)),
 * x, ...)[0]}. Autodiff stops at StopGradient (nothing is built for the forward ops behind it) and
 * reaches the inputs only through IdentityN, whose gradient, registered once per process by op
 * type, looks up the hand-written backward of that op by graph and name. An IdentityN this class
 * did not make keeps its usual gradient (each output's gradient to its input).
 */
public final class HandGradient {
  private HandGradient() {}

  /** The gradients of the inputs, in order, given the gradient arriving at the output. */
  public interface Backward {
    List<Operand<TFloat32>> gradients(Ops tf, Operand<TFloat32> dOutput);
  }

  // By graph (identity), then op name; a graph's entries go when its owner calls release.
  private static final Map<ExecutionEnvironment, Map<String, Backward>> BACKWARDS =
      Collections.synchronizedMap(new IdentityHashMap<>());
  private static boolean registered;

  private static synchronized void ensureRegistered() {
    if (registered) {
      return;
    }
    boolean accepted =
        TensorFlow.registerCustomGradient(
            "IdentityN",
            (tf, op, gradOutputs) -> {
              Map<String, Backward> byName = BACKWARDS.get(op.env());
              Backward backward = byName == null ? null : byName.get(op.name());
              List<Operand<?>> gradients = new ArrayList<>();
              if (backward == null) {
                for (int i = 0; i < op.numInputs(); i++) {
                  Output<?> g = gradOutputs.get(i);
                  gradients.add(g != null ? g : tf.zerosLike(op.input(i)));
                }
                return gradients;
              }
              @SuppressWarnings("unchecked")
              Operand<TFloat32> dOutput = (Operand<TFloat32>) gradOutputs.get(0);
              gradients.add(tf.zerosLike(op.input(0))); // the StopGradient: a dead end
              gradients.addAll(backward.gradients(tf, dOutput));
              if (gradients.size() != op.numInputs()) {
                throw new IllegalStateException(
                    op.name()
                        + ": the hand-written gradient gave "
                        + (gradients.size() - 1)
                        + " gradients for "
                        + (op.numInputs() - 1)
                        + " inputs");
              }
              return gradients;
            });
    if (!accepted) {
      throw new IllegalStateException(
          "TensorFlow refused a gradient for IdentityN (it already has one in this build), so"
              + " hand-written gradients cannot be attached");
    }
    registered = true;
  }

  /**
   * {@code forward}, built from {@code inputs}, with {@code backward} as its gradient.
   *
   * @param forward the function's value, computed from the inputs by ordinary ops
   * @param inputs every tensor the value depends on that a gradient may have to reach
   * @param backward one gradient per input, in order
   */
  public static Operand<TFloat32> apply(
      Ops tf, Operand<TFloat32> forward, List<Operand<TFloat32>> inputs, Backward backward) {
    ensureRegistered();
    List<Operand<?>> operands = new ArrayList<>();
    operands.add(tf.stopGradient(forward));
    operands.addAll(inputs);
    IdentityN marker = tf.identityN(operands);
    BACKWARDS
        .computeIfAbsent(marker.op().env(), env -> Collections.synchronizedMap(new HashMap<>()))
        .put(marker.op().name(), backward);
    @SuppressWarnings("unchecked")
    Operand<TFloat32> out = (Operand<TFloat32>) marker.output().get(0);
    return out;
  }

  /** Forgets the backward functions of a graph's ops; call when the graph is closed. */
  public static void release(ExecutionEnvironment graph) {
    BACKWARDS.remove(graph);
  }
}
