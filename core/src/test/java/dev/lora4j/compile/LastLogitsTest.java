package dev.lora4j.compile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Generation's logits (the head on each sequence's last hidden row only) equal the last position of
 * the full logits, with a trained adapter, in both compute precisions.
 */
class LastLogitsTest {

  @ParameterizedTest(name = "{0}, {1}")
  @CsvSource({
    "gpt2-tiny, F32",
    "llama-tiny, F32",
    "qwen2-tiny, F32",
    "gpt2-tiny, BF16",
    "llama-tiny, BF16"
  })
  void lastLogitsEqualTheLastPositionOfTheFullLogits(
      String name, CompileOptions.Precision precision) {
    int[][] ids = {{5, 17, 3, 9, 41, 2}, {7, 7, 1, 30, 12, 8}};
    try (Conformance.AdaptedModel adapted =
        Conformance.withAdapter(
            Conformance.dir(name), CompileOptions.defaults().withPrecision(precision))) {
      CompiledModel model = adapted.model();
      CompiledModel.Logits full = model.logits(ids);
      float[] last = model.lastLogits(ids);
      assertEquals(ids.length * full.vocab(), last.length);
      double worst = 0;
      double scale = 0;
      for (int b = 0; b < ids.length; b++) {
        for (int v = 0; v < full.vocab(); v++) {
          float want = full.at(b, full.time() - 1, v);
          worst = Math.max(worst, Math.abs(want - last[b * full.vocab() + v]));
          scale = Math.max(scale, Math.abs(want));
        }
      }
      assertTrue(scale > 0, "logits must not vanish");
      // The same products on fewer rows: equal up to the matmul's blocking (f32 rounding).
      assertTrue(worst <= 1e-5 * Math.max(1, scale), "largest difference " + worst);
    }
  }
}
