package dev.lora4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.io.CheckpointException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reproducibility and exact resume of whole training runs. */
class TrainerTest {
  @TempDir Path tmp;

  @Test
  void theSameSeedReproducesTheSameLosses() {
    TrainingReport a = TrainerRuns.run(4, null, null, List.of());
    TrainingReport b = TrainerRuns.run(4, null, null, List.of());
    assertEquals(a.losses(), b.losses());
    assertTrue(a.losses().get(3) < a.losses().get(0), "the loss goes down: " + a.losses());
  }

  @Test
  void aResumedRunHasTheLossesOfAnUninterruptedOne() {
    TrainingReport uninterrupted = TrainerRuns.run(6, tmp.resolve("a"), null, List.of());
    Path out = tmp.resolve("b");
    // Crash right after the checkpoint of step 4 was written.
    RuntimeException crash = new RuntimeException("simulated crash");
    assertThrows(
        RuntimeException.class,
        () ->
            TrainerRuns.run(
                6,
                out,
                null,
                List.of(
                    e -> {
                      if (e instanceof TrainingEvent.CheckpointSaved c && c.step() == 4) {
                        throw crash;
                      }
                    })));
    List<Long> resumedSteps = new ArrayList<>();
    TrainingReport resumed =
        TrainerRuns.run(
            6,
            out,
            out,
            List.of(
                e -> {
                  if (e instanceof TrainingEvent.Step s) {
                    resumedSteps.add(s.step());
                  }
                }));
    assertEquals(List.of(5L, 6L), resumedSteps, "the resumed run does only steps 5 and 6");
    assertEquals(uninterrupted.losses(), resumed.losses());
    assertEquals(uninterrupted.finalValidationLoss(), resumed.finalValidationLoss());
    assertEquals(2, new CheckpointStore(out).list().size(), "keeps the newest 2 checkpoints");
  }

  @Test
  void resumingFromAnotherPlanIsRefusedAndNamesBoth() {
    Path out = tmp.resolve("c");
    TrainerRuns.run(3, out, null, List.of());
    String m =
        assertThrows(CheckpointException.class, () -> TrainerRuns.run(4, out, out, List.of()))
            .getMessage();
    assertTrue(m.contains("another training plan"), m);
    assertTrue(m.contains("steps=3") && m.contains("steps=4"), m);
  }

  @Test
  void resumingWithoutACheckpointSaysWhereItLooked() {
    Path empty = tmp.resolve("nothing");
    String m =
        assertThrows(CheckpointException.class, () -> TrainerRuns.run(3, empty, empty, List.of()))
            .getMessage();
    assertTrue(m.contains("no checkpoint to resume from"), m);
    assertTrue(m.contains(empty.resolve("checkpoints").toString()), m);
  }
}
