package dev.lora4j.dsl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The Java builder path builds the same plan value as the Kotlin DSL. */
class LoraPlanJavaTest {

  static LoraPlan javaPlan() {
    return LoraPlan.builder("runs/base-model")
        .rank(8)
        .alpha(16.0)
        .dropout(0.05)
        .init(LoraInit.KAIMING_UNIFORM)
        .rsLora(false)
        .target(TargetRule.suffix("c_attn", Slice.Q, Slice.V))
        .target(
            TargetRule.regex("model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj")
                .withRank(16)
                .withAlpha(32.0))
        .target(TargetRule.allLinear().withLayerRange(0, 3).withExclude("mlp.c_proj"))
        .training(
            TrainingPlan.builder()
                .optimizer(Optimizer.adamW(2e-4, 0.9, 0.999, 1e-8, 0.01))
                .loraPlusRatio(16.0)
                .schedule(Schedule.cosine(Warmup.steps(100), 0.1))
                .batchSize(8)
                .gradAccumulation(4)
                .maxSteps(1000)
                .maxGradNorm(1.0)
                .precision(Precision.BF16)
                .seed(42)
                .evalEvery(100)
                .checkpointEvery(500)
                .keepCheckpoints(3)
                .earlyStopping(5, 0.0)
                .build())
        .data(
            DataPlan.builder("samples/data/fortunes.txt.gz")
                .format(DataFormat.TEXT)
                .seqLen(128)
                .validationSplit(0.05)
                .build())
        .quantization(new QuantizationPlan(Quantization.NF4, true))
        .build();
  }

  @Test
  void javaBuilderAndKotlinDslBuildEqualPlans() {
    LoraPlan fromJava = javaPlan();
    LoraPlan fromKotlin = DslTestKt.examplePlan();
    assertEquals(fromKotlin, fromJava);
    assertEquals(fromKotlin.hashCode(), fromJava.hashCode());
  }

  @Test
  void javaPlanRoundTripsThroughJson() {
    LoraPlan plan = javaPlan();
    assertEquals(plan, LoraPlan.fromJson(plan.toJson()));
  }

  @Test
  void javaBuilderValidatesAndListsEveryProblem() {
    PlanValidationException e =
        assertThrows(
            PlanValidationException.class,
            () ->
                LoraPlan.builder("b")
                    .rank(0)
                    .target("c_attn")
                    .training(TrainingPlan.builder().batchSize(0).build())
                    .build());
    assertEquals(2, e.getProblems().size());
    assertTrue(e.getMessage().contains("defaults.rank must be between 1 and 4096, was 0"));
    assertTrue(e.getMessage().contains("training.batchSize must be at least 1, was 0"));
  }

  @Test
  void copyWithChangesFromJava() {
    LoraPlan plan = javaPlan();
    LoraPlan changed = plan.copy(
        plan.getBase(),
        new AdapterDefaults(4),
        plan.getTargets(),
        plan.getTraining(),
        plan.getData(),
        plan.getQuantization());
    assertEquals(4, changed.getDefaults().getRank());
    assertEquals(plan.getTargets(), changed.getTargets());
  }
}
