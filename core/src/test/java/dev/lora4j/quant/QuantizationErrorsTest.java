package dev.lora4j.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.io.SafetensorsFile;
import dev.lora4j.io.SafetensorsWriter;
import dev.lora4j.io.TensorInfo;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.model.Projection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Bad input: sizes off the block grid, non-finite weights, an unaccepted drift, bad options. */
class QuantizationErrorsTest {
  @TempDir Path tmp;

  @Test
  void aSizeOffTheBlockGridIsPaddedAndSaysSo() {
    // [3, 50] = 150 values: blocks of 64, 64 and 22 real values (the reference's shorter last
    // block), padded with 42 zero codes to fill the packed bytes.
    float[] values = Int8AndDoubleQuantTest.matrix(3, 50, 5);
    Nf4.Quantized q = Nf4.quantize("odd.weight", values);
    assertEquals(3, q.blocks());
    assertEquals(42, q.padding());
    assertEquals(3 * 32, q.packed().length);
    float max = 0;
    for (int i = 128; i < 150; i++) {
      max = Math.max(max, Math.abs(values[i]));
    }
    assertEquals(max, q.absmax()[2], "the last block's absmax covers its 22 real values only");
    float[] graph =
        GraphDequantizer.run(
            "odd.weight", values, new long[] {3, 50}, Projection.Layout.LINEAR, Quantization.nf4());
    Nf4ConformanceTest.assertBitwiseEqual(Nf4.dequantize(q), graph, "padded graph vs host");
    try (org.tensorflow.Graph g = new org.tensorflow.Graph()) {
      QuantizedWeight w =
          QuantizedWeight.create(
              org.tensorflow.op.Ops.create(g),
              "odd.weight",
              new long[] {3, 50},
              Projection.Layout.LINEAR,
              Quantization.nf4());
      assertEquals(42, w.padding());
      assertEquals(3 * 32 + 3 * 4, w.storedBytes());
    }
  }

  @ParameterizedTest(name = "a {0} weight is refused before anything is quantized, by name")
  @ValueSource(strings = {"NaN", "Infinity", "-Infinity"})
  void nonFiniteWeightsAreRefusedNamingTheTensor(String bad) throws IOException {
    Path dir = copyWithValue("llama-tiny", "model.layers.1.mlp.up_proj.weight", 17, bad);
    for (Quantization q : List.of(Quantization.nf4(), Quantization.int8(), Quantization.bf16())) {
      try (Checkpoint checkpoint = Checkpoint.open(dir)) {
        IllegalArgumentException e =
            assertThrows(
                IllegalArgumentException.class,
                () ->
                    ModelCompiler.compile(
                        checkpoint, List.of(), CompileOptions.defaults().withQuantization(q)));
        assertTrue(
            e.getMessage().contains("'model.layers.1.mlp.up_proj.weight'")
                && e.getMessage().contains("value 17 ")
                && e.getMessage().contains(String.valueOf(Float.parseFloat(bad))),
            e.getMessage());
      }
    }
  }

  @Test
  void mergingIntoAQuantizedBaseWithoutAcceptingTheDriftWritesNothing() {
    Path dir = Conformance.dir("llama-tiny");
    PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
    Path out = tmp.resolve("merged");
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      QuantizedMerge.DriftNotAcceptedException e =
          assertThrows(
              QuantizedMerge.DriftNotAcceptedException.class,
              () ->
                  QuantizedMerge.export(
                      checkpoint, adapter, Quantization.nf4(), false, false, out, null, false));
      assertTrue(e.drift().maxAbs() > 1e-3, "nf4 must move the logits: " + e.drift());
      assertTrue(
          e.getMessage().contains("max abs ") && e.getMessage().contains("--allow-drift"),
          e.getMessage());
    }
    assertFalse(Files.exists(out), "nothing may be written");
  }

  @Test
  void doubleQuantizationWithoutNf4IsRefused() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Quantization.parse("int8", true));
    assertTrue(e.getMessage().contains("--quantize-base nf4"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> new Quantization(Quantization.Format.INT8, true));
    IllegalArgumentException unknown =
        assertThrows(IllegalArgumentException.class, () -> Quantization.parse("int4", false));
    assertTrue(unknown.getMessage().contains("int8, nf4"), unknown.getMessage());
  }

  /** A copy of a conformance checkpoint with one value of one tensor replaced. */
  private Path copyWithValue(String name, String key, int index, String value) throws IOException {
    Path src = Conformance.dir(name);
    Path dst = tmp.resolve(name + "-" + value);
    Files.createDirectories(dst);
    Files.copy(src.resolve("config.json"), dst.resolve("config.json"));
    Map<String, SafetensorsWriter.TensorData> tensors = new LinkedHashMap<>();
    try (SafetensorsFile file = SafetensorsFile.open(src.resolve("model.safetensors"))) {
      for (TensorInfo info : file.tensors()) {
        float[] values = file.floats(info.name());
        if (info.name().equals(key)) {
          values[index] = Float.parseFloat(value);
        }
        tensors.put(info.name(), SafetensorsWriter.TensorData.f32(info.shape(), values));
      }
    }
    SafetensorsWriter.write(dst.resolve("model.safetensors"), tensors, Map.of());
    return dst;
  }
}
