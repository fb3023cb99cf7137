package dev.lora4j.train;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.dsl.DataPlan;
import dev.lora4j.dsl.LoraPlan;
import dev.lora4j.dsl.TrainingPlan;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A plan that cannot run on its base is refused before its data is read. */
class PlanRunnerErrorsTest {
  @TempDir Path tmp;

  @Test
  void aSeqLenLongerThanTheBasesPositionsIsRefusedBeforeTheDataIsRead() {
    Path base = Conformance.dir("gpt2-tiny"); // n_positions 64
    // A data file that does not exist: the seq_len check must come first.
    Path missing = tmp.resolve("missing.txt");
    LoraPlan plan =
        LoraPlan.builder(base.toString())
            .target("c_attn")
            .training(TrainingPlan.builder().maxSteps(1).build())
            .data(DataPlan.builder(missing.toString()).seqLen(65).build())
            .build();
    Path out = tmp.resolve("run");
    String m =
        assertThrows(
                IllegalArgumentException.class, () -> PlanRunner.run(plan, out, false, List.of()))
            .getMessage();
    assertTrue(
        m.contains("seq_len 65 is longer than this gpt2 model's 64 positions (n_positions"), m);
    assertFalse(Files.exists(out.resolve("checkpoints")), "nothing written for a refused plan");
  }

  @Test
  void aTargetThatMatchesNothingIsRefusedBeforeTheDataIsRead() {
    Path base = Conformance.dir("gpt2-tiny");
    LoraPlan plan =
        LoraPlan.builder(base.toString())
            .target("q_proj")
            .training(TrainingPlan.builder().maxSteps(1).build())
            .data(DataPlan.builder(tmp.resolve("missing.txt").toString()).seqLen(32).build())
            .build();
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () -> PlanRunner.run(plan, tmp.resolve("run"), false, List.of()))
            .getMessage();
    assertTrue(m.contains("matches no projection of this model"), m);
  }
}
