package dev.lora4j.quant;

import dev.lora4j.model.Projection;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/** Loads values into one {@link QuantizedWeight} in a fresh graph and runs its dequantization. */
final class GraphDequantizer {
  private GraphDequantizer() {}

  static float[] run(
      String name, float[] values, long[] shape, Projection.Layout layout, Quantization q) {
    try (Graph graph = new Graph()) {
      Ops tf = Ops.create(graph);
      QuantizedWeight w = QuantizedWeight.create(tf, name, shape, layout, q);
      Operand<TFloat32> out = w.dequantize(tf, null);
      try (Session session = new Session(graph)) {
        w.load(session, values);
        try (Result result = session.runner().fetch(out).run()) {
          TFloat32 t = (TFloat32) result.get(0);
          float[] got = new float[(int) t.size()];
          t.asRawTensor().data().asFloats().read(got);
          return got;
        }
      }
    }
  }
}
