package dev.lora4j.compile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/** Logits equal the independent reference's for every conformance case (max abs diff <= 1e-4). */
class LogitsConformanceTest {
  static final List<String> CASES = Conformance.CASES;

  @ParameterizedTest(name = "{0}: base logits equal the reference")
  @FieldSource("CASES")
  void baseLogitsMatchReference(String name) {
    Path dir = Conformance.dir(name);
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    try (Checkpoint checkpoint = Checkpoint.open(dir);
        CompiledModel model =
            ModelCompiler.compile(checkpoint, List.of(), CompileOptions.defaults())) {
      float[] got = model.logits(ids).values();
      float[] want = Conformance.tensor(dir.resolve("logits.safetensors"), "logits");
      double diff = Conformance.maxAbsDiff(got, want);
      assertTrue(diff <= 1e-4, name + ": max abs diff " + diff);
    }
  }

  @ParameterizedTest(name = "{0}: logits with the PEFT adapter equal the reference")
  @FieldSource("CASES")
  void adapterLogitsMatchReference(String name) {
    Path dir = Conformance.dir(name);
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    try (Conformance.AdaptedModel adapted =
        Conformance.withAdapter(dir, CompileOptions.defaults())) {
      CompiledModel model = adapted.model();
      float[] got = model.logits(ids).values();
      float[] want = Conformance.tensor(dir.resolve("logits_adapter.safetensors"), "logits");
      double diff = Conformance.maxAbsDiff(got, want);
      assertTrue(diff <= 1e-4, name + ": max abs diff " + diff);
    }
  }

  @ParameterizedTest(name = "{0}: the reference's merged checkpoint loads as a plain model")
  @FieldSource("CASES")
  void mergedCheckpointGivesAdapterLogits(String name) {
    Path dir = Conformance.dir(name);
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    try (Checkpoint checkpoint = Checkpoint.open(dir.resolve("merged"));
        CompiledModel model =
            ModelCompiler.compile(checkpoint, List.of(), CompileOptions.defaults())) {
      float[] got = model.logits(ids).values();
      float[] want = Conformance.tensor(dir.resolve("logits_adapter.safetensors"), "logits");
      double diff = Conformance.maxAbsDiff(got, want);
      assertTrue(diff <= 1e-4, name + ": max abs diff " + diff);
    }
  }

  @ParameterizedTest(name = "{0}: a fresh adapter (B = 0) leaves logits bitwise identical")
  @FieldSource("CASES")
  void zeroAdapterChangesNothing(String name) {
    Path dir = Conformance.dir(name);
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
    try (Checkpoint checkpoint = Checkpoint.open(dir);
        CompiledModel base =
            ModelCompiler.compile(checkpoint, List.of(), CompileOptions.defaults());
        CompiledModel fresh =
            ModelCompiler.compile(
                checkpoint,
                adapter.specsFor(checkpoint.architecture()),
                CompileOptions.defaults())) {
      assertTrue(fresh.trainableParameterCount() > 0);
      assertArrayEquals(base.logits(ids).values(), fresh.logits(ids).values());
    }
  }
}
