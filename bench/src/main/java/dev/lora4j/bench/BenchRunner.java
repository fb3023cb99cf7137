package dev.lora4j.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Runs each mode in its own JVM and prints ratios measured in this one run. */
public final class BenchRunner {
  private BenchRunner() {}

  /**
   * @param rounds how many times to run every mode (and the peer), interleaved, so that a burst of
   *     load from the machine's neighbours lands on one round of every mode rather than on all of
   *     one mode; each mode reports its median round (the faster middle one of an even count; odd
   *     counts are the clean choice)
   * @param reference also time the PyTorch peer (the f32 forward, full and LoRA modes) and print
   *     lora4j/PyTorch ratios
   */
  public static List<BenchResult> run(
      BenchConfig config,
      List<String> modes,
      List<String> precisions,
      boolean xla,
      Path cacheDir,
      int seqLen,
      int rank,
      int rounds,
      boolean reference,
      java.io.PrintStream out,
      boolean json)
      throws IOException, InterruptedException {
    if (rounds < 1) {
      throw new IllegalArgumentException("--rounds must be >= 1, was " + rounds);
    }
    // Found before anything is timed, so a missing torch fails now, naming what to install.
    String python = reference ? PytorchReference.python() : null;
    Map<String, List<BenchResult>> byMode = new java.util.LinkedHashMap<>();
    for (int round = 0; round < rounds; round++) {
      for (BenchResult r : oneRound(config, modes, precisions, xla, cacheDir, seqLen, rank)) {
        byMode.computeIfAbsent(r.mode() + " " + r.precision(), k -> new ArrayList<>()).add(r);
      }
      if (reference) {
        for (String mode : modes) {
          if (List.of("forward", "full", "lora").contains(mode)) {
            BenchResult peer = PytorchReference.run(python, config, mode, seqLen, rank);
            byMode.computeIfAbsent("pytorch " + mode, k -> new ArrayList<>()).add(peer);
          }
        }
      }
    }
    List<BenchResult> results = new ArrayList<>();
    List<BenchResult> peers = new ArrayList<>();
    for (Map.Entry<String, List<BenchResult>> e : byMode.entrySet()) {
      List<BenchResult> sorted = new ArrayList<>(e.getValue());
      sorted.sort(
          java.util.Comparator.comparingDouble(
              r -> r.mode().equals("peak") ? -r.gflops() : r.stepMsMedian()));
      BenchResult median = sorted.get((sorted.size() - 1) / 2); // the lower one of an even count
      (e.getKey().startsWith("pytorch ") ? peers : results).add(median);
      print(median, out, json);
    }
    if (rounds > 1 && !json) {
      out.println("(each line: the median of " + rounds + " interleaved rounds)");
    }
    printRatios(results, peers, out, json);
    return results;
  }

  private static List<BenchResult> oneRound(
      BenchConfig config,
      List<String> modes,
      List<String> precisions,
      boolean xla,
      Path cacheDir,
      int seqLen,
      int rank)
      throws IOException, InterruptedException {
    List<BenchResult> results = new ArrayList<>();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    for (String precision : precisions) {
      for (String mode : modes) {
        List<String> command =
            new ArrayList<>(
                List.of(
                    java,
                    "-Xmx8g",
                    "-cp",
                    System.getProperty("java.class.path"),
                    BenchMode.class.getName(),
                    config.name(),
                    mode,
                    precision,
                    String.valueOf(xla),
                    cacheDir.toString(),
                    String.valueOf(seqLen),
                    String.valueOf(rank)));
        results.add(runChild(command, Map.of(), "bench mode " + mode + " (" + precision + ")"));
      }
    }
    return results;
  }

  /**
   * Runs a child process that prints one BenchResult JSON line last. Its stderr goes to a temporary
   * file whose last lines (without TensorFlow's log noise) explain a failure.
   */
  static BenchResult runChild(List<String> command, Map<String, String> env, String what)
      throws IOException, InterruptedException {
    Path errors = Files.createTempFile("lora4j-bench-", ".stderr");
    try {
      ProcessBuilder pb = new ProcessBuilder(command).redirectError(errors.toFile());
      pb.environment().putIfAbsent("TF_CPP_MIN_LOG_LEVEL", "2");
      pb.environment().putAll(env);
      Process p = pb.start();
      String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (p.waitFor() != 0 || output.isEmpty()) {
        throw new IOException(
            what
                + " failed (exit "
                + p.exitValue()
                + "): "
                + (output.isEmpty() ? "" : output + "; ")
                + lastErrorLines(errors));
      }
      return BenchResult.fromJson(output.substring(output.lastIndexOf('\n') + 1));
    } finally {
      Files.deleteIfExists(errors);
    }
  }

  /** The last few stderr lines of a child, TensorFlow's INFO/WARNING log lines left out. */
  static String lastErrorLines(Path stderr) throws IOException {
    List<String> lines =
        Files.readAllLines(stderr, StandardCharsets.UTF_8).stream()
            .filter(l -> !l.isBlank())
            .filter(l -> !l.matches("^[IW]\\d{4} .*") && !l.startsWith("WARNING: All log messages"))
            .toList();
    if (lines.isEmpty()) {
      return "no error output";
    }
    return String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size()));
  }

  private static void print(BenchResult r, java.io.PrintStream out, boolean json) {
    if (json) {
      out.println(r.toJson());
    } else if (r.mode().equals("peak")) {
      out.printf(
          Locale.ROOT,
          "%s peak    %-4s matmul %8.1f GFLOP/s (best of the model's widest projection and head shapes and"
              + " 1024^3)%n",
          r.config(),
          r.precision(),
          r.gflops());
    } else {
      out.printf(
          Locale.ROOT,
          "%s %-7s %-4s step %8.1f ms (min %8.1f)  %9.0f tok/s  peak RSS %7.0f MB  trainable %,d"
              + " of %,d%s%n",
          r.config(),
          r.mode(),
          r.precision(),
          r.stepMsMedian(),
          r.stepMsMin(),
          r.tokensPerS(),
          r.peakRssMb(),
          r.paramsTrainable(),
          r.paramsTotal(),
          Double.isNaN(r.gflops()) ? "" : String.format(Locale.ROOT, "  %.0f GFLOP/s", r.gflops()));
    }
  }

  static BenchResult find(List<BenchResult> results, String mode, String precision) {
    return results.stream()
        .filter(r -> r.mode().equals(mode) && r.precision().equals(precision))
        .findFirst()
        .orElse(null);
  }

  static void printRatios(
      List<BenchResult> results, List<BenchResult> peers, java.io.PrintStream out, boolean json) {
    List<String> lines = new ArrayList<>();
    for (String precision : List.of("f32", "bf16")) {
      BenchResult lora = find(results, "lora", precision);
      BenchResult full = find(results, "full", precision);
      if (lora != null && full != null) {
        lines.add(
            String.format(
                Locale.ROOT,
                "%s LoRA/full step time %.3f, peak RSS %.3f",
                precision,
                lora.stepMsMedian() / full.stepMsMedian(),
                lora.peakRssMb() / full.peakRssMb()));
      }
    }
    for (String precision : List.of("f32", "bf16")) {
      BenchResult forward = find(results, "forward", precision);
      BenchResult merged = find(results, "merged", precision);
      if (forward != null && merged != null) {
        lines.add(
            String.format(
                Locale.ROOT,
                "%s merged/base forward time %.3f",
                precision,
                merged.stepMsMedian() / forward.stepMsMedian()));
      }
      BenchResult swap = find(results, "swap", precision);
      if (swap != null) {
        lines.add(
            String.format(
                Locale.ROOT,
                "%s base load %.1f ms, adapter swap %.2f ms: swap is %.0fx faster",
                precision,
                swap.baseLoadMs(),
                swap.stepMsMedian(),
                swap.baseLoadMs() / swap.stepMsMedian()));
      }
    }
    for (String mode : List.of("forward", "full", "lora")) {
      BenchResult f32 = find(results, mode, "f32");
      BenchResult bf16 = find(results, mode, "bf16");
      if (f32 != null && bf16 != null) {
        lines.add(
            String.format(
                Locale.ROOT,
                "%s bf16/f32 step time %.3f",
                mode,
                bf16.stepMsMedian() / f32.stepMsMedian()));
      }
    }
    for (String precision : List.of("f32", "bf16")) {
      BenchResult peak = find(results, "peak", precision);
      for (String mode : List.of("forward", "full", "lora", "merged")) {
        BenchResult r = find(results, mode, precision);
        if (peak != null && r != null) {
          lines.add(
              String.format(
                  Locale.ROOT,
                  "%s %s step reaches %.3f of the measured %s matmul peak (%.0f of %.0f GFLOP/s;"
                      + " its matrix products alone need %.1f ms at that peak)",
                  precision,
                  mode,
                  r.gflops() / peak.gflops(),
                  precision,
                  r.gflops(),
                  peak.gflops(),
                  r.stepMsMedian() * r.gflops() / peak.gflops()));
        }
      }
    }
    for (BenchResult peer : peers) {
      for (String precision : List.of("f32", "bf16")) {
        BenchResult ours = find(results, peer.mode(), precision);
        if (ours != null) {
          lines.add(
              String.format(
                  Locale.ROOT,
                  "lora4j %s / PyTorch f32 %s step time %.3f, peak RSS %.3f",
                  precision,
                  peer.mode(),
                  ours.stepMsMedian() / peer.stepMsMedian(),
                  ours.peakRssMb() / peer.peakRssMb()));
        }
      }
    }
    for (String line : lines) {
      out.println(json ? "{\"ratio\": \"" + line + "\"}" : "ratio: " + line);
    }
  }

  /**
   * A sweep's table: for each (seq, rank) point and timed mode, the median step time, the time per
   * token, and both relative to the first point.
   *
   * @param sweep results by "seq rank", in sweep order
   */
  public static void printSweep(
      Map<String, List<BenchResult>> sweep, java.io.PrintStream out, boolean json) {
    List<BenchResult> first = sweep.values().iterator().next();
    if (!json) {
      out.println("sweep: seq rank mode precision   step ms  x first   us/token  x first");
    }
    for (Map.Entry<String, List<BenchResult>> point : sweep.entrySet()) {
      String[] seqRank = point.getKey().split(" ");
      for (BenchResult r : point.getValue()) {
        BenchResult base = find(first, r.mode(), r.precision());
        if (base == null || Double.isNaN(r.stepMsMedian()) || r.mode().equals("peak")) {
          continue;
        }
        double perToken = 1e6 / r.tokensPerS(); // microseconds per token of the batch
        double basePerToken = 1e6 / base.tokensPerS();
        String line =
            String.format(
                Locale.ROOT,
                "%5s %4s %-7s %-4s %9.1f  %7.2f  %9.1f  %7.2f",
                seqRank[0],
                seqRank[1],
                r.mode(),
                r.precision(),
                r.stepMsMedian(),
                r.stepMsMedian() / base.stepMsMedian(),
                perToken,
                perToken / basePerToken);
        out.println(
            json ? "{\"sweep\": \"" + line.trim().replaceAll(" +", " ") + "\"}" : "sweep: " + line);
      }
    }
  }
}
