package dev.lora4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.compile.WeightVariable;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Optimizer semantics in the graph: accumulation, schedules, LoRA+, the NaN guard, full FT. */
class TrainingGraphTest {
  static Checkpoint llama;
  static PeftAdapter adapter;
  static int[][] batch;

  @BeforeAll
  static void open() {
    Path dir = Conformance.dir("llama-tiny");
    llama = Checkpoint.open(dir);
    adapter = PeftAdapter.load(dir.resolve("train/adapter_init"));
    int[][] two = Conformance.ids(dir.resolve("train/batch.json"));
    // Four rows: the reference batch and the same rows shifted by one token id.
    batch = new int[4][];
    for (int i = 0; i < 4; i++) {
      batch[i] = two[i % 2].clone();
      if (i >= 2) {
        for (int t = 0; t < batch[i].length; t++) {
          batch[i][t] = (batch[i][t] + 1) % 101;
        }
      }
    }
  }

  @AfterAll
  static void close() {
    llama.close();
  }

  private static CompiledModel compile() {
    CompiledModel model =
        ModelCompiler.compile(
            llama, adapter.specsFor(llama.architecture()), CompileOptions.defaults());
    adapter.applyTo(model);
    return model;
  }

  /** AdamW (lr 1e-2, decay 0.1) at a constant rate over 5 steps, clipped at norm 1. */
  private static TrainingGraph adamW(CompiledModel model, int accumulation) {
    return new TrainingGraph(
        model,
        model.trainableVariables(),
        OptimizerConfig.adamW(1e-2, 0.1),
        ScheduleConfig.constant(),
        5,
        1.0,
        accumulation);
  }

  private static float[][] mask(int rows, int cols, float value) {
    float[][] m = new float[rows][cols];
    for (float[] r : m) {
      Arrays.fill(r, value);
    }
    return m;
  }

  private static List<float[]> params(CompiledModel model) {
    List<float[]> out = new ArrayList<>();
    for (WeightVariable w : model.trainableVariables()) {
      out.add(model.read(w));
    }
    return out;
  }

  @Test
  void rowsLongerThanTheModelsPositionsAreRefusedWithoutAStep() {
    int positions = llama.config().maxPositions();
    int[][] tooLong = new int[2][positions + 1];
    try (CompiledModel model = compile()) {
      TrainingGraph g = adamW(model, 1);
      List<float[]> before = params(model);
      String m =
          assertThrows(
                  IllegalArgumentException.class,
                  () ->
                      g.step(
                          List.<int[][]>of(tooLong), List.<float[][]>of(mask(2, positions, 1f)), 0))
              .getMessage();
      assertTrue(
          m.contains(
              "sequence length " + (positions + 1) + " is longer than the model's " + positions),
          m);
      List<float[]> after = params(model);
      for (int i = 0; i < before.size(); i++) {
        assertArrayEquals(before.get(i), after.get(i));
      }
    }
  }

  @Test
  void accumulatingTwoMicroBatchesEqualsOneBatchTwiceAsLarge() {
    int cols = batch[0].length - 1;
    float[][] partialMask = mask(4, cols, 1f);
    // Uneven scored tokens per micro-batch: the update must weight them by token count.
    Arrays.fill(partialMask[0], 0, cols / 2, 0f);
    List<float[]> once;
    List<float[]> accumulated;
    float onceLoss;
    float accumulatedLoss;
    try (CompiledModel model = compile()) {
      TrainingGraph g = adamW(model, 1);
      onceLoss = g.step(List.<int[][]>of(batch), List.<float[][]>of(partialMask), 0).loss();
      g.step(List.<int[][]>of(batch), List.<float[][]>of(partialMask), 0);
      once = params(model);
    }
    try (CompiledModel model = compile()) {
      TrainingGraph g = adamW(model, 2);
      List<int[][]> micro =
          List.of(Arrays.copyOfRange(batch, 0, 2), Arrays.copyOfRange(batch, 2, 4));
      List<float[][]> masks =
          List.of(Arrays.copyOfRange(partialMask, 0, 2), Arrays.copyOfRange(partialMask, 2, 4));
      accumulatedLoss = g.step(micro, masks, 0).loss();
      g.step(micro, masks, 0);
      accumulated = params(model);
      assertEquals(2, g.step());
    }
    assertEquals(onceLoss, accumulatedLoss, 1e-5 * Math.abs(onceLoss));
    assertTrue(
        TrainConformanceTest.relativeL2(accumulated, once) <= 1e-5,
        "relative L2 " + TrainConformanceTest.relativeL2(accumulated, once));
  }

  @Test
  void learningRateFollowsWarmupAndCosineDecayAsAGraphOp() {
    ScheduleConfig cosine = ScheduleConfig.of(ScheduleConfig.Kind.COSINE, 2, 0.1);
    try (CompiledModel model = compile()) {
      TrainingGraph g =
          new TrainingGraph(
              model, model.trainableVariables(), OptimizerConfig.sgd(1.0, 0), cosine, 6, null, 1);
      float[][] m = mask(4, batch[0].length - 1, 1f);
      double[] expected = {
        0,
        0.5,
        1,
        0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 0.25)),
        0.1 + 0.9 * 0.5,
        0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 0.75))
      };
      for (int k = 0; k < 6; k++) {
        float lr = g.step(List.<int[][]>of(batch), List.<float[][]>of(m), 0).lr();
        assertEquals(expected[k], lr, 1e-6, "lr at step " + k);
        assertEquals(cosine.factor(k, 6), lr, 1e-6);
      }
    }
    ScheduleConfig linear = ScheduleConfig.withWarmupRatio(ScheduleConfig.Kind.LINEAR, 0.25, 0);
    assertEquals(1, linear.warmup(4));
    assertEquals(1.0, linear.factor(1, 4), 1e-12);
    assertEquals(1.0 / 3, linear.factor(3, 4), 1e-12);
  }

  @Test
  void loraPlusMovesBTimesFasterThanA() {
    try (CompiledModel plain = compile();
        CompiledModel plus = compile()) {
      float[][] m = mask(4, batch[0].length - 1, 1f);
      List<float[]> start = params(plain);
      new TrainingGraph(
              plain,
              plain.trainableVariables(),
              OptimizerConfig.sgd(1e-2, 0),
              ScheduleConfig.constant(),
              1,
              null,
              1)
          .step(List.<int[][]>of(batch), List.<float[][]>of(m), 0);
      new TrainingGraph(
              plus,
              plus.trainableVariables(),
              OptimizerConfig.sgd(1e-2, 0).withLoraPlusRatio(16),
              ScheduleConfig.constant(),
              1,
              null,
              1)
          .step(List.<int[][]>of(batch), List.<float[][]>of(m), 0);
      List<WeightVariable> vars = plain.trainableVariables();
      for (int i = 0; i < vars.size(); i++) {
        float[] a = plain.read(vars.get(i));
        float[] b = plus.read(plus.trainableVariables().get(i));
        double ratio = vars.get(i).name().contains("lora_B") ? 16 : 1;
        for (int j = 0; j < a.length; j++) {
          double plainDelta = a[j] - start.get(i)[j];
          double plusDelta = b[j] - start.get(i)[j];
          assertEquals(
              plainDelta * ratio, plusDelta, 1e-6 + 1e-3 * Math.abs(plusDelta), vars.get(i).name());
        }
      }
    }
  }

  @Test
  void aNonFiniteLossLeavesEveryVariableAndTheStepUnchanged() {
    try (CompiledModel model = compile()) {
      TrainingGraph g =
          new TrainingGraph(
              model,
              model.trainableVariables(),
              OptimizerConfig.adamW(1e-2, 0.1),
              ScheduleConfig.constant(),
              5,
              null,
              1);
      float[][] m = mask(4, batch[0].length - 1, 1f);
      g.step(List.<int[][]>of(batch), List.<float[][]>of(m), 0);
      List<float[]> before = params(model);
      List<float[]> slotsBefore = new ArrayList<>();
      for (WeightVariable s : g.slots().values()) {
        slotsBefore.add(model.read(s));
      }
      float[][] poisoned = mask(4, batch[0].length - 1, Float.NaN);
      TrainingGraph.StepResult r = g.step(List.<int[][]>of(batch), List.<float[][]>of(poisoned), 0);
      assertFalse(Float.isFinite(r.loss()));
      assertEquals(1, g.step());
      assertEquals(1, g.stepVariableValue());
      List<float[]> after = params(model);
      for (int i = 0; i < before.size(); i++) {
        assertArrayEquals(before.get(i), after.get(i));
      }
      int i = 0;
      for (WeightVariable s : g.slots().values()) {
        assertArrayEquals(slotsBefore.get(i++), model.read(s), s.name());
      }
    }
  }

  @Test
  void fullFineTuningTrainsEveryBaseWeight() {
    try (CompiledModel model = ModelCompiler.compile(llama, List.of(), CompileOptions.defaults())) {
      List<WeightVariable> base = List.copyOf(model.baseWeights().values());
      float[] embedBefore = model.read(model.baseWeights().get("model.embed_tokens.weight"));
      float[] headBefore = model.read(model.baseWeights().get("lm_head.weight"));
      TrainingGraph g =
          new TrainingGraph(
              model, base, OptimizerConfig.adamW(1e-3, 0), ScheduleConfig.constant(), 3, null, 1);
      float[][] m = mask(4, batch[0].length - 1, 1f);
      float first = g.step(List.<int[][]>of(batch), List.<float[][]>of(m), 0).loss();
      g.step(List.<int[][]>of(batch), List.<float[][]>of(m), 0);
      float third = g.step(List.<int[][]>of(batch), List.<float[][]>of(m), 0).loss();
      assertTrue(third < first, "loss " + first + " -> " + third);
      assertFalse(
          Arrays.equals(
              embedBefore, model.read(model.baseWeights().get("model.embed_tokens.weight"))));
      assertFalse(Arrays.equals(headBefore, model.read(model.baseWeights().get("lm_head.weight"))));
      assertEquals(2 * base.size(), g.slots().size());
    }
  }

  @Test
  void badOptimizerSettingsAreRefusedWithTheFlag() {
    String lr =
        assertThrows(IllegalArgumentException.class, () -> OptimizerConfig.adamW(0, 0).validate())
            .getMessage();
    assertTrue(lr.contains("learning rate must be > 0, was 0.0"), lr);
    String warmup =
        assertThrows(
                IllegalArgumentException.class,
                () -> ScheduleConfig.of(ScheduleConfig.Kind.LINEAR, 10, 0).validate(10))
            .getMessage();
    assertTrue(
        warmup.contains("warm-up (10 steps) must be shorter than the run (10 steps)"), warmup);
  }
}
