package dev.lora4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.compile.CompileOptions;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The timed modes run for real on config A (short sequences), and report consistent fields. */
class BenchModeTest {
  @TempDir Path cache;

  @Test
  void loraAndPeakModesMeasureAndCountWhatTheyRan() throws Exception {
    BenchResult lora =
        BenchMode.run(BenchConfig.A, "lora", CompileOptions.Precision.BF16, false, cache, 16, 2);
    // Rank 2 on the q and v slices of 4 layers' c_attn (d 256): 4 x 2 x (2 x 256 + 256 x 2).
    assertEquals(8192, lora.paramsTrainable());
    assertEquals(4_701_696 + 8192, lora.paramsTotal());
    assertEquals(BenchConfig.A.measuredSteps, lora.steps());
    assertTrue(lora.stepMsMin() > 0 && lora.stepMsMin() <= lora.stepMsMedian(), lora.toJson());
    assertEquals(
        MatmulPeak.stepFlops(BenchConfig.A, 16, "lora") / (lora.stepMsMedian() / 1000) / 1e9,
        lora.gflops(),
        1e-6 * lora.gflops());
    BenchResult peak =
        BenchMode.run(BenchConfig.A, "peak", CompileOptions.Precision.F32, false, cache, 16, 2);
    assertTrue(peak.gflops() > 0, peak.toJson());
  }

  @Test
  void generateModeTimesGreedyTokensWithoutTraining() throws Exception {
    BenchResult generate =
        BenchMode.run(BenchConfig.A, "generate", CompileOptions.Precision.F32, false, cache, 16, 2);
    assertEquals("generate", generate.mode());
    assertEquals(0, generate.paramsTrainable());
    assertEquals(4_701_696, generate.paramsTotal());
    assertEquals(3, generate.steps());
    assertTrue(
        generate.stepMsMin() > 0 && generate.stepMsMin() <= generate.stepMsMedian(),
        generate.toJson());
    assertEquals(1000 / generate.stepMsMedian(), generate.tokensPerS(), 1e-9);
  }
}
