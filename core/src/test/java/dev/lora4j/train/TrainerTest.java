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

  @Test
  void aDivergingRunStopsWithAMessageAndKeepsItsLastCheckpoint() {
    Path out = tmp.resolve("diverge");
    // Four good rows, then four whose loss weights are NaN (as corrupt data would make them).
    List<dev.lora4j.data.Sequence> rows = new java.util.ArrayList<>(TrainerRuns.rows(8, 16, 1));
    for (int i = 4; i < 8; i++) {
      float[] mask = rows.get(i).lossMask().clone();
      java.util.Arrays.fill(mask, Float.NaN);
      rows.set(i, new dev.lora4j.data.Sequence(rows.get(i).ids(), mask));
    }
    try (var checkpoint =
            dev.lora4j.model.Checkpoint.open(dev.lora4j.Conformance.dir("llama-tiny"));
        var model =
            dev.lora4j.compile.ModelCompiler.compile(
                checkpoint, TrainerRuns.specs(), dev.lora4j.compile.CompileOptions.defaults())) {
      TrainConfig config =
          TrainConfig.defaults(OptimizerConfig.adamW(1e-3, 0), 50, 4).withCheckpoints(1, 2);
      Trainer trainer = new Trainer(model, config, "llama-tiny", List.of());
      String m =
          assertThrows(
                  TrainingDivergedException.class,
                  () ->
                      trainer.fit(
                          new dev.lora4j.data.BatchIterator(rows, 4, 1, false, false),
                          List.of(),
                          out,
                          null))
              .getMessage();
      assertTrue(m.contains("the loss became"), m);
      assertTrue(m.contains("Lower --lr"), m);
      assertTrue(m.contains("at step 2"), m);
      assertTrue(m.contains("last good checkpoint"), m);
      Path latest = new CheckpointStore(out).latest();
      assertTrue(latest.endsWith("step-00000001"), latest.toString());
      CheckpointStore.Saved saved = CheckpointStore.load(latest);
      for (float[] values : saved.params().values()) {
        for (float v : values) {
          assertTrue(Float.isFinite(v), "the kept checkpoint holds finite weights");
        }
      }
    }
  }
}
