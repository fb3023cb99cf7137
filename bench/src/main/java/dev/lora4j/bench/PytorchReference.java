package dev.lora4j.bench;

import dev.lora4j.model.RandomCheckpoint;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The PyTorch peer (pytorch_reference.py, shipped in this jar) timed in the same run as lora4j, so
 * that "ours vs PyTorch" is a ratio taken on one machine at one time. Needs a python3 with torch
 * (Debian: apt-get install python3-torch libopenblas0-pthread).
 */
public final class PytorchReference {
  private PytorchReference() {}

  static final String SCRIPT = "pytorch_reference.py";

  /**
   * Threads: PyTorch's Debian build runs its GEMMs in OpenBLAS; measured here, OpenBLAS on 2
   * threads with PyTorch's own intra-op pool at 1 is its fastest setting (both pools at 2
   * oversubscribe the 2 cores and run 1.4-2.8x slower), so the peer gets that.
   */
  static final Map<String, String> THREADS =
      Map.of("OPENBLAS_NUM_THREADS", "2", "OMP_NUM_THREADS", "1");

  /**
   * @param python a python3 with torch, from {@link #python()}
   */
  public static BenchResult run(
      String python, BenchConfig config, String mode, int seqLen, int rank)
      throws IOException, InterruptedException {
    Path script = Files.createTempFile("lora4j-", "-" + SCRIPT);
    Path configJson = Files.createTempFile("lora4j-", "-config.json");
    try (InputStream in = PytorchReference.class.getResourceAsStream(SCRIPT)) {
      Files.copy(in, script, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    try {
      // The peer builds its model from the same config.json the lora4j modes load.
      Files.writeString(configJson, RandomCheckpoint.configJson(config.model));
      List<String> command =
          new ArrayList<>(
              List.of(
                  python,
                  script.toString(),
                  mode,
                  configJson.toString(),
                  String.valueOf(seqLen),
                  String.valueOf(config.batch),
                  String.valueOf(rank),
                  String.valueOf(config.measuredSteps),
                  "1"));
      BenchResult r = BenchRunner.runChild(command, THREADS, "PyTorch reference " + mode);
      return new BenchResult(
          config.name() + " pytorch",
          r.mode(),
          r.precision(),
          false,
          r.stepMsMedian(),
          r.stepMsMin(),
          r.tokensPerS(),
          r.peakRssMb(),
          r.paramsTotal(),
          r.paramsTrainable(),
          r.steps(),
          Double.NaN,
          MatmulPeak.stepFlops(config, seqLen, mode) / (r.stepMsMedian() / 1000) / 1e9);
    } finally {
      Files.deleteIfExists(script);
      Files.deleteIfExists(configJson);
    }
  }

  /** Debian's python3 first: a pyenv python3 earlier on PATH usually has no torch. */
  static String python() throws IOException, InterruptedException {
    for (String candidate : List.of("/usr/bin/python3", "python3")) {
      try {
        Process p =
            new ProcessBuilder(candidate, "-c", "import torch")
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        if (p.waitFor() == 0) {
          return candidate;
        }
      } catch (IOException notThere) {
        // try the next one
      }
    }
    throw new IOException(
        "--reference pytorch needs python3 with torch; on Debian or Ubuntu: apt-get install"
            + " python3-torch libopenblas0-pthread (OpenBLAS: without it torch multiplies with"
            + " the reference BLAS, 20x slower)");
  }
}
