package dev.lora4j.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Runs each mode in its own JVM and prints ratios measured in this one run. */
public final class BenchRunner {
  private BenchRunner() {}

  public static List<BenchResult> run(
      BenchConfig config,
      List<String> modes,
      List<String> precisions,
      boolean xla,
      Path cacheDir,
      int seqLen,
      int rank,
      java.io.PrintStream out,
      boolean json)
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
        ProcessBuilder pb =
            new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().putIfAbsent("TF_CPP_MIN_LOG_LEVEL", "2");
        Process p = pb.start();
        String output =
            new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.waitFor() != 0 || output.isEmpty()) {
          throw new IOException("bench mode " + mode + " (" + precision + ") failed: " + output);
        }
        String line = output.substring(output.lastIndexOf('\n') + 1);
        BenchResult r = BenchResult.fromJson(line);
        results.add(r);
        out.println(
            json
                ? r.toJson()
                : String.format(
                    Locale.ROOT,
                    "%s %-7s %-4s step %8.1f ms (min %8.1f)  %9.0f tok/s  peak RSS %7.0f MB  trainable %,d of %,d",
                    r.config(),
                    r.mode(),
                    r.precision(),
                    r.stepMsMedian(),
                    r.stepMsMin(),
                    r.tokensPerS(),
                    r.peakRssMb(),
                    r.paramsTrainable(),
                    r.paramsTotal()));
      }
    }
    printRatios(results, out, json);
    return results;
  }

  static BenchResult find(List<BenchResult> results, String mode, String precision) {
    return results.stream()
        .filter(r -> r.mode().equals(mode) && r.precision().equals(precision))
        .findFirst()
        .orElse(null);
  }

  static void printRatios(List<BenchResult> results, java.io.PrintStream out, boolean json) {
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
    for (String line : lines) {
      out.println(json ? "{\"ratio\": \"" + line + "\"}" : "ratio: " + line);
    }
  }
}
