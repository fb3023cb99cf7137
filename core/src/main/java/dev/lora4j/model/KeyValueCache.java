package dev.lora4j.model;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The graph side of incremental decoding: the new rows sit at positions {@code offset ..} and
 * attend to every layer's past keys and values (fed, [B, kv heads, P, hd]) and causally to each
 * other; each layer's keys and values of the new rows come back to be appended on the host. {@link
 * TransformerOps#causalAttention} fills the lists, one layer per call, in layer order.
 */
public final class KeyValueCache {
  private final Ops tf;
  private final Placeholder<TInt32> offset;
  private final List<Placeholder<TFloat32>> pastKeys = new ArrayList<>();
  private final List<Placeholder<TFloat32>> pastValues = new ArrayList<>();
  private final List<Operand<TFloat32>> newKeys = new ArrayList<>();
  private final List<Operand<TFloat32>> newValues = new ArrayList<>();

  public KeyValueCache(Ops tf) {
    this.tf = tf;
    this.offset =
        tf.withName("decode_offset").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
  }

  /** The position of the first new row: the length of the cached past. */
  public Placeholder<TInt32> offset() {
    return offset;
  }

  public List<Placeholder<TFloat32>> pastKeys() {
    return pastKeys;
  }

  public List<Placeholder<TFloat32>> pastValues() {
    return pastValues;
  }

  public List<Operand<TFloat32>> newKeys() {
    return newKeys;
  }

  public List<Operand<TFloat32>> newValues() {
    return newValues;
  }

  /** The next layer's keys and values, past then new, along the time axis (2). */
  List<Operand<TFloat32>> extend(Operand<TFloat32> keys, Operand<TFloat32> values) {
    int layer = pastKeys.size();
    Shape fourD = Shape.of(-1, -1, -1, -1);
    Placeholder<TFloat32> pastK =
        tf.withName("past_keys_" + layer).placeholder(TFloat32.class, Placeholder.shape(fourD));
    Placeholder<TFloat32> pastV =
        tf.withName("past_values_" + layer).placeholder(TFloat32.class, Placeholder.shape(fourD));
    pastKeys.add(pastK);
    pastValues.add(pastV);
    newKeys.add(keys);
    newValues.add(values);
    Operand<TInt32> time = tf.constant(2);
    return List.of(tf.concat(List.of(pastK, keys), time), tf.concat(List.of(pastV, values), time));
  }
}
