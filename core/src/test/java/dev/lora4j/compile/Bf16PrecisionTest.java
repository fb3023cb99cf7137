package dev.lora4j.compile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.train.OptimizerConfig;
import dev.lora4j.train.ScheduleConfig;
import dev.lora4j.train.TrainingGraph;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;

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
    CompileOptions bf16 = CompileOptions.defaults().withPrecision(CompileOptions.Precision.BF16);
    try (Conformance.AdaptedModel adapted = Conformance.withAdapter(dir, bf16)) {
      CompiledModel model = adapted.model();
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
    try (Conformance.AdaptedModel adapted =
        Conformance.withAdapter(dir, CompileOptions.defaults().withXla(true))) {
      CompiledModel model = adapted.model();
      float[] want = Conformance.tensor(dir.resolve("logits_adapter.safetensors"), "logits");
      double diff = Conformance.maxAbsDiff(model.logits(ids).values(), want);
      assertTrue(diff <= 1e-4, "XLA: max abs diff " + diff);
    }
  }

  /** Every bf16 copy equals the bf16 rounding of its float32 weight, bit for bit. */
  static void assertCopiesFollowTheirWeights(CompiledModel model, String when) {
    var tf = model.ops();
    int checked = 0;
    for (WeightVariable w : model.baseWeights().values()) {
      var copy = model.bf16Copy(w);
      if (copy == null) {
        continue;
      }
      var same =
          tf.reduceAll(
              tf.math.equal(
                  tf.dtypes.cast(copy, TFloat32.class),
                  tf.dtypes.cast(tf.dtypes.cast(w.variable(), TBfloat16.class), TFloat32.class)),
              tf.constant(new int[] {0, 1}));
      try (var r = model.session().runner().fetch(same).run()) {
        assertTrue(
            ((TBool) r.get(0)).getBoolean(), when + ": bf16 copy of " + w.name() + " is stale");
      }
      checked++;
    }
    assertTrue(checked > 0, "a bf16 model has bf16 copies of its projection and head weights");
  }

  @Test
  void frozenBf16CopiesFollowLoadsAndMergesAndEqualTheCastOfATrainableBase(@TempDir Path tmp) {
    Path dir = Conformance.dir("gpt2-tiny");
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    float[][] mask = new float[ids.length][ids[0].length - 1];
    for (float[] row : mask) {
      java.util.Arrays.fill(row, 1f);
    }
    CompileOptions bf16 = CompileOptions.defaults().withPrecision(CompileOptions.Precision.BF16);
    Path trained = tmp.resolve("trained");
    try (Checkpoint checkpoint = Checkpoint.open(dir);
        CompiledModel frozen = ModelCompiler.compile(checkpoint, List.of(), bf16)) {
      assertCopiesFollowTheirWeights(frozen, "after loading");
      var e =
          assertThrows(
              IllegalArgumentException.class,
              () -> frozen.gradientsOf(List.copyOf(frozen.baseWeights().values())));
      assertTrue(e.getMessage().contains("withTrainableBase(true)"), e.getMessage());
      dev.lora4j.adapter.Merger.mergeInto(frozen, PeftAdapter.load(dir.resolve("adapter")), +1);
      assertCopiesFollowTheirWeights(frozen, "after a merge");
    }
    float[] after;
    try (Checkpoint checkpoint = Checkpoint.open(dir);
        CompiledModel model =
            ModelCompiler.compile(checkpoint, List.of(), bf16.withTrainableBase(true))) {
      float[] before = model.logits(ids).values();
      TrainingGraph graph =
          new TrainingGraph(
              model,
              List.copyOf(model.baseWeights().values()),
              OptimizerConfig.adamW(1e-2, 0.01),
              ScheduleConfig.constant(),
              10,
              null,
              1);
      for (int i = 0; i < 2; i++) {
        graph.step(List.<int[][]>of(ids), List.<float[][]>of(mask), 0);
      }
      after = model.logits(ids).values();
      assertFalse(java.util.Arrays.equals(before, after), "training changed the model");
      model.exportCheckpoint(trained);
    }
    // The trained weights, loaded into a frozen-base model (bf16 copies), give the same logits as
    // the trained model that cast its weights on every step.
    try (Checkpoint checkpoint = Checkpoint.open(trained);
        CompiledModel fresh = ModelCompiler.compile(checkpoint, List.of(), bf16)) {
      assertArrayEquals(after, fresh.logits(ids).values());
    }
  }
}
