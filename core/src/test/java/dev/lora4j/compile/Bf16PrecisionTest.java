package dev.lora4j.compile;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * bfloat16 compute (frozen projections and head in bf16, everything else float32) stays close to
 * the float32 reference: bf16 keeps 8 bits of mantissa, so logits move by about 1% of their range.
 */
class Bf16PrecisionTest {
  static final List<String> CASES = Conformance.CASES;

  @ParameterizedTest(
      name = "{0}: bf16 logits with the adapter are within 2% of the reference range")
  @FieldSource("CASES")
  void bf16LogitsAreCloseToTheReference(String name) {
    Path dir = Conformance.dir(name);
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
    CompileOptions bf16 = CompileOptions.defaults().withPrecision(CompileOptions.Precision.BF16);
    try (Checkpoint checkpoint = Checkpoint.open(dir);
        CompiledModel model =
            ModelCompiler.compile(checkpoint, adapter.specsFor(checkpoint.architecture()), bf16)) {
      adapter.applyTo(model);
      float[] got = model.logits(ids).values();
      float[] want = Conformance.tensor(dir.resolve("logits_adapter.safetensors"), "logits");
      double diff = Conformance.maxAbsDiff(got, want);
      double scale = 0;
      for (float v : want) {
        scale = Math.max(scale, Math.abs(v));
      }
      assertTrue(diff <= 0.02 * scale, name + ": max abs diff " + diff + ", max |logit| " + scale);
      assertTrue(diff > 1e-4, name + ": bf16 must actually change the arithmetic");
    }
  }

  @org.junit.jupiter.api.Test
  void xlaAutoClusteringGivesTheReferenceLogits() {
    Path dir = Conformance.dir("llama-tiny");
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
    try (Checkpoint checkpoint = Checkpoint.open(dir);
        CompiledModel model =
            ModelCompiler.compile(
                checkpoint,
                adapter.specsFor(checkpoint.architecture()),
                CompileOptions.defaults().withXla(true))) {
      adapter.applyTo(model);
      float[] want = Conformance.tensor(dir.resolve("logits_adapter.safetensors"), "logits");
      double diff = Conformance.maxAbsDiff(model.logits(ids).values(), want);
      assertTrue(diff <= 1e-4, "XLA: max abs diff " + diff);
    }
  }
}
