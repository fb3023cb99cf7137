package dev.lora4j.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.model.Projection;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** int8 per-channel and the double-quantized absmax stay within half a step of the input. */
class Int8AndDoubleQuantTest {

  /** Rows of very different magnitudes, so a per-tensor scale would fail the bound. */
  static float[] matrix(int rows, int cols, long seed) {
    Random random = new Random(seed);
    float[] values = new float[rows * cols];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        double magnitude = Math.pow(10, (r + c) % 5 - 3);
        values[r * cols + c] = (float) (random.nextGaussian() * magnitude);
      }
    }
    values[3] = 0; // an exact zero survives
    return values;
  }

  @ParameterizedTest(name = "{0}: every value comes back within half a step of its channel")
  @EnumSource(Projection.Layout.class)
  void int8RoundTripErrorIsAtMostHalfAStepPerChannel(Projection.Layout layout) {
    int rows = 24;
    int cols = 40;
    boolean byRow = layout == Projection.Layout.LINEAR;
    float[] values = matrix(rows, cols, 3);
    Int8.Quantized q = Int8.quantize("w", values, rows, cols, byRow);
    float[] back = Int8.dequantize(q);
    int channels = byRow ? rows : cols;
    assertEquals(channels, q.scales().length);
    for (int ch = 0; ch < channels; ch++) {
      float absmax = 0;
      double maxError = 0;
      for (int k = 0; k < (byRow ? cols : rows); k++) {
        int i = byRow ? ch * cols + k : k * cols + ch;
        absmax = Math.max(absmax, Math.abs(values[i]));
        maxError = Math.max(maxError, Math.abs((double) values[i] - back[i]));
      }
      double step = q.scales()[ch];
      assertEquals(absmax / 127f, q.scales()[ch], "channel " + ch + " scale");
      // half a step, plus float32 rounding of the division and the product
      double bound = step / 2 * (1 + 1e-5) + Math.ulp(absmax);
      assertTrue(maxError <= bound, "channel " + ch + ": error " + maxError + " > bound " + bound);
    }
    assertEquals(0f, back[3]);
    assertEquals(rows * cols + 4L * channels, q.storedBytes());
    float[] graph =
        GraphDequantizer.run("w", values, new long[] {rows, cols}, layout, Quantization.int8());
    Nf4ConformanceTest.assertBitwiseEqual(back, graph, "int8 graph vs host");
  }

  @ParameterizedTest(name = "double quantization of {0} absmax values: error at most half a step")
  @org.junit.jupiter.params.provider.ValueSource(ints = {1, 255, 256, 700})
  void doubleQuantizedAbsmaxIsWithinHalfAStepOfItsBlock(int count) {
    Random random = new Random(count);
    float[] absmax = new float[count];
    for (int i = 0; i < count; i++) {
      absmax[i] = (float) Math.abs(random.nextGaussian() * 0.05) + 1e-3f;
    }
    DoubleQuant.Quantized q = DoubleQuant.quantize(absmax);
    float[] back = DoubleQuant.dequantize(q);
    int blocks = (count + 255) / 256;
    assertEquals(blocks * 256L, q.codes().length);
    for (int i = 0; i < count; i++) {
      double step = q.scales()[i / 256];
      double error = Math.abs((double) back[i] - absmax[i]);
      assertTrue(
          error <= step / 2 * (1 + 1e-5) + Math.ulp(absmax[i]) + Math.ulp(q.offset()),
          "absmax " + i + ": error " + error + ", step " + step);
    }
  }

  @org.junit.jupiter.api.Test
  void nf4StorageIsAboutHalfAByteAndDoubleQuantCutsTheAbsmaxOverhead() {
    int rows = 256;
    int cols = 1024; // 4096 blocks of 64, 16 second-level blocks of 256
    float[] values = matrix(rows, cols, 9);
    double f32 = 4.0 * values.length;
    long nf4 = Nf4.quantize("w", values).storedBytes();
    Nf4.Quantized n = Nf4.quantize("w", values);
    long nf4dq = n.packed().length + DoubleQuant.quantize(n.absmax()).storedBytes();
    assertEquals(0.5625, nf4 / (f32 / 4), 1e-9, "0.5 + 4/64 bytes per weight");
    assertEquals(0.5 + 1 / 64.0 + (16 * 4 + 4) / (double) values.length, nf4dq / (f32 / 4), 1e-9);
  }
}
