package dev.lora4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lora4j.Conformance;
import dev.lora4j.io.JsonFields;
import dev.lora4j.io.SafetensorsFile;
import dev.lora4j.model.Projection;
import java.nio.file.Path;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonPrimitive;
import org.junit.jupiter.api.Test;

/** NF4 codes, absmax and dequantized values equal the reference exactly, on the host and in TF. */
class Nf4ConformanceTest {
  static final Path DIR = Conformance.dir("nf4");

  static float[] input() {
    return Conformance.tensor(DIR.resolve("nf4.safetensors"), "input");
  }

  @Test
  void codebookAndBlockSizeAreTheReferences() {
    JsonFields json = JsonFields.parse(DIR.resolve("nf4.json"));
    JsonArray codebook = (JsonArray) json.get("codebook");
    float[] want = new float[codebook.size()];
    for (int i = 0; i < want.length; i++) {
      want[i] = Float.parseFloat(((JsonPrimitive) codebook.get(i)).getContent());
    }
    assertArrayEquals(want, Nf4.codebook());
    assertEquals(Nf4.BLOCK, (int) json.requireDouble("blocksize"));
  }

  @Test
  void codesAbsmaxAndDequantizedValuesEqualTheReferenceExactly() {
    Nf4.Quantized q = Nf4.quantize("nf4.input", input());
    try (SafetensorsFile want = SafetensorsFile.open(DIR.resolve("nf4.safetensors"))) {
      long[] codes = want.longs("codes");
      byte[] got = q.codes();
      assertEquals(codes.length, got.length);
      for (int i = 0; i < codes.length; i++) {
        assertEquals(codes[i], got[i], "code " + i);
      }
      assertArrayEquals(want.floats("absmax"), q.absmax(), "absmax");
      assertBitwiseEqual(want.floats("dequantized"), Nf4.dequantize(q), "host dequantized");
    }
    assertEquals(0, q.padding());
    assertEquals(512 / 2, q.packed().length, "two codes per byte");
    assertEquals(256 + 8 * 4, q.storedBytes());
  }

  @Test
  void theGraphDequantizesToTheReferenceBitForBit() {
    float[] want = Conformance.tensor(DIR.resolve("nf4.safetensors"), "dequantized");
    for (Quantization q : new Quantization[] {Quantization.nf4(), Quantization.nf4DoubleQuant()}) {
      float[] got =
          GraphDequantizer.run(
              "nf4_case", input(), new long[] {4, 128}, Projection.Layout.LINEAR, q);
      if (!q.doubleQuant()) {
        assertBitwiseEqual(want, got, "graph dequantized");
      }
      // The graph and the host decode the same stored bytes identically (double quant too).
      float[] host =
          QuantizedMerge.roundTrip(
              "nf4_case", input(), new long[] {4, 128}, Projection.Layout.LINEAR, q);
      assertBitwiseEqual(host, got, q.label() + ": graph vs host");
    }
  }

  static void assertBitwiseEqual(float[] want, float[] got, String what) {
    assertEquals(want.length, got.length, what + ": length");
    for (int i = 0; i < want.length; i++) {
      assertEquals(
          Float.floatToRawIntBits(want[i]),
          Float.floatToRawIntBits(got[i]),
          what + " differs at " + i + ": want " + want[i] + ", got " + got[i]);
    }
  }
}
