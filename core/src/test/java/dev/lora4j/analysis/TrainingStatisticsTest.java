package dev.lora4j.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.adapter.PeftAdapter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Spectra over a run's checkpoints, laid out the way the trainer writes them. */
class TrainingStatisticsTest {
  static final String MODULE = "transformer.h.0.attn.c_attn";
  @TempDir Path tmp;

  /** out/checkpoints/step-0000000N/ holding the gpt2-tiny train adapters (init, step 1, step 3). */
  Path run() throws IOException {
    Path train = Conformance.dir("gpt2-tiny").resolve("train");
    String[][] steps = {{"adapter_init", "0"}, {"adapter_step1", "1"}, {"adapter_step3", "3"}};
    for (String[] s : steps) {
      Path dir =
          tmp.resolve("out/checkpoints")
              .resolve(String.format("step-%08d", Integer.parseInt(s[1])));
      Files.createDirectories(dir);
      for (String file : List.of(PeftAdapter.CONFIG_FILE, PeftAdapter.WEIGHTS_FILE)) {
        Files.copy(train.resolve(s[0]).resolve(file), dir.resolve(file));
      }
    }
    return tmp.resolve("out");
  }

  @Test
  void readsEveryCheckpointInStepOrderWithItsSpectra() throws IOException {
    Path out = run();
    TrainingStatistics stats = TrainingStatistics.load(out);
    assertArrayEquals(new long[] {0, 1, 3}, stats.stepNumbers());
    assertEquals(6, stats.modules().size());
    double[] norms = stats.series(MODULE, ModuleSpectrum::frobenius);
    PeftAdapter step3 =
        PeftAdapter.load(Conformance.dir("gpt2-tiny").resolve("train/adapter_step3"));
    double want = ModuleSpectrum.of(step3).get(MODULE).frobenius();
    assertEquals(want, norms[2], 1e-12);
    assertTrue(norms[0] != norms[2]);
    double[] ranks = stats.series(MODULE, ModuleSpectrum::entropyRank);
    for (double r : ranks) {
      assertTrue(r >= 1 && r <= 4, "entropy rank " + r);
    }
    // The checkpoints/ directory itself works too.
    assertArrayEquals(
        stats.stepNumbers(), TrainingStatistics.load(out.resolve("checkpoints")).stepNumbers());
  }

  @Test
  void snapshotsGivenInAnyOrderAreSortedAndDuplicateStepsRefused() {
    PeftAdapter a = PeftAdapter.load(Conformance.dir("gpt2-tiny").resolve("train/adapter_step3"));
    PeftAdapter b = PeftAdapter.load(Conformance.dir("gpt2-tiny").resolve("train/adapter_step1"));
    TrainingStatistics stats =
        TrainingStatistics.of(
            List.of(new TrainingStatistics.Snapshot(3, a), new TrainingStatistics.Snapshot(1, b)));
    assertArrayEquals(new long[] {1, 3}, stats.stepNumbers());
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () ->
                    TrainingStatistics.of(
                        List.of(
                            new TrainingStatistics.Snapshot(2, a),
                            new TrainingStatistics.Snapshot(2, b))))
            .getMessage();
    assertTrue(m.contains("step 2 appears twice"), m);
    m =
        assertThrows(
                IllegalArgumentException.class,
                () -> stats.series("nope", ModuleSpectrum::spectral))
            .getMessage();
    assertTrue(m.contains(MODULE), m);
  }

  @Test
  void aCheckpointWithoutAnAdapterAndAnEmptyDirectoryAreNamed() throws IOException {
    Path dir = tmp.resolve("full/checkpoints/step-00000005");
    Files.createDirectories(dir);
    String m =
        assertThrows(RuntimeException.class, () -> TrainingStatistics.load(tmp.resolve("full")))
            .getMessage();
    assertTrue(m.contains("step-00000005") && m.contains("no adapter_config.json"), m);
    Files.createDirectories(tmp.resolve("empty"));
    m =
        assertThrows(RuntimeException.class, () -> TrainingStatistics.load(tmp.resolve("empty")))
            .getMessage();
    assertTrue(m.contains("no step-N checkpoint directories"), m);
  }
}
