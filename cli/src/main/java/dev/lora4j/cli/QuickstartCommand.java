package dev.lora4j.cli;

import dev.lora4j.io.JsonFields;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import kotlinx.serialization.json.Json;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `lora4j quickstart`: pretrains a small GPT-2 on the King James Bible (cached), fine-tunes it on
 * fortunes with LoRA and, for comparison, with full fine-tuning, and reports perplexity, size,
 * speed and memory side by side. Each phase runs in its own JVM so its peak memory is its own.
 */
@Command(
    name = "quickstart",
    mixinStandardHelpOptions = true,
    description = {
      "Shows LoRA on real text in a few minutes: pretrains a small GPT-2-layout base on the"
          + " shipped King James Bible (cached in --out/base as a Hugging Face checkpoint), then"
          + " fine-tunes it on the shipped fortunes with LoRA and with full fine-tuning, and writes"
          + " --out/report.json and the adapter (PEFT) in --out/adapter."
    })
final class QuickstartCommand implements Callable<Integer> {
  /** Seconds per step measured on the 2-core reference machine; they turn minutes into steps. */
  static final double PRETRAIN_STEP_S = 0.30;

  static final double LORA_STEP_S = 0.22;
  static final double FULL_STEP_S = 0.30;

  @Option(
      names = "--minutes",
      defaultValue = "6",
      description = "Training time budget; more gives a better base. Default: ${DEFAULT-VALUE}.")
  double minutes;

  @Option(
      names = "--out",
      defaultValue = "runs/quickstart",
      description = "Default: ${DEFAULT-VALUE}.")
  Path out;

  @Option(
      names = "--data",
      defaultValue = "samples/data",
      description = "The shipped corpora. Default: ${DEFAULT-VALUE}.")
  Path data;

  @Option(names = "--pretrain-again", description = "Ignore the cached base and pretrain it anew.")
  boolean pretrainAgain;

  @Option(names = "--seed", defaultValue = "1", description = "Default: ${DEFAULT-VALUE}.")
  long seed;

  @Override
  public Integer call() throws Exception {
    if (!(minutes >= 0.5)) {
      throw new IllegalArgumentException("--minutes must be at least 0.5, was " + minutes);
    }
    for (String corpus : List.of("kjv.txt.gz", "fortunes.txt.gz")) {
      if (!Files.isReadable(data.resolve(corpus))) {
        throw new IllegalArgumentException(
            data.resolve(corpus)
                + ": the shipped corpus is missing; run from the repository root"
                + " or pass --data samples/data");
      }
    }
    long started = System.nanoTime();
    Map<String, JsonElement> report = new LinkedHashMap<>();
    try (RunDirectory lock = RunDirectory.open(out, true)) {
      Path base = out.resolve("base");
      boolean cached = Files.isRegularFile(base.resolve("model.safetensors")) && !pretrainAgain;
      if (cached) {
        System.err.println(
            "quickstart: using the cached base in " + base + " (--pretrain-again to redo it)");
        report.put("pretrain_cached", JsonElementKt.JsonPrimitive(true));
      } else {
        report.putAll(phase("pretrain", steps(0.55, PRETRAIN_STEP_S)));
      }
      long fineTuneSteps = steps(0.17, LORA_STEP_S);
      report.putAll(phase("lora", fineTuneSteps));
      report.putAll(phase("full", fineTuneSteps));
      report.put("lora_peak_rss_mb", report.remove("lora_phase_peak_rss_mb"));
      report.put("full_peak_rss_mb", report.remove("full_phase_peak_rss_mb"));
      report.put("total_seconds", JsonElementKt.JsonPrimitive((System.nanoTime() - started) / 1e9));
      String json =
          Json.Default.encodeToString(JsonElement.Companion.serializer(), new JsonObject(report));
      QuickstartPhase.writeReport(out.resolve("report.json"), new JsonObject(report));
      printTable(JsonFields.parse(out.resolve("report.json")));
      if (json.isEmpty()) {
        return 1;
      }
    }
    return 0;
  }

  private long steps(double shareOfBudget, double secondsPerStep) {
    return Math.max(20, Math.round(minutes * 60 * shareOfBudget / secondsPerStep));
  }

  /** Runs one phase in a child JVM; its progress goes to our stderr, its JSON line comes back. */
  private Map<String, JsonElement> phase(String name, long steps)
      throws IOException, InterruptedException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command =
        new ArrayList<>(
            List.of(
                java,
                "-Xmx6g",
                "-cp",
                System.getProperty("java.class.path"),
                QuickstartPhase.class.getName(),
                name,
                data.toString(),
                out.toString(),
                String.valueOf(steps),
                String.valueOf(seed)));
    ProcessBuilder builder =
        new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
    builder.environment().putIfAbsent("TF_CPP_MIN_LOG_LEVEL", "2");
    Process process = builder.start();
    Thread killer = new Thread(process::destroy);
    Runtime.getRuntime().addShutdownHook(killer); // Ctrl-C stops the child too
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int code = process.waitFor();
    Runtime.getRuntime().removeShutdownHook(killer);
    if (code != 0) {
      throw new IllegalStateException("quickstart phase '" + name + "' failed (exit " + code + ")");
    }
    String line = output.strip();
    line = line.substring(line.lastIndexOf('\n') + 1);
    JsonObject json = (JsonObject) Json.Default.parseToJsonElement(line);
    Map<String, JsonElement> result = new LinkedHashMap<>(json);
    JsonElement rss = result.remove("peak_rss_mb");
    result.put(name + "_phase_peak_rss_mb", rss);
    return result;
  }

  private static void printTable(JsonFields r) {
    System.out.println();
    System.out.println(
        "lora4j quickstart: a GPT-2-layout base pretrained on the King James Bible,"
            + " fine-tuned on fortunes");
    System.out.printf(Locale.ROOT, "%-34s %14s %14s %14s%n", "", "base", "LoRA", "full FT");
    System.out.printf(
        Locale.ROOT,
        "%-34s %14.2f %14.2f %14.2f%n",
        "validation perplexity (fortunes)",
        r.requireDouble("base_ppl"),
        r.requireDouble("lora_ppl"),
        r.requireDouble("full_ppl"));
    long base = (long) r.requireDouble("base_params");
    long trainable = (long) r.requireDouble("trainable_params");
    System.out.printf(
        Locale.ROOT,
        "%-34s %14s %14s %14s%n",
        "trainable parameters",
        "-",
        String.format(Locale.ROOT, "%,d (%.2f%%)", trainable, 100.0 * trainable / base),
        String.format(Locale.ROOT, "%,d", base));
    System.out.printf(
        Locale.ROOT,
        "%-34s %14s %14s %14s%n",
        "bytes on disk",
        String.format(Locale.ROOT, "%,d", (long) r.requireDouble("base_bytes")),
        String.format(Locale.ROOT, "%,d", (long) r.requireDouble("adapter_bytes")),
        "(a new base)");
    System.out.printf(
        Locale.ROOT,
        "%-34s %14s %14.1f %14.1f%n",
        "step time (ms, median)",
        "-",
        r.requireDouble("lora_step_ms"),
        r.requireDouble("full_step_ms"));
    System.out.printf(
        Locale.ROOT,
        "%-34s %14s %14.0f %14.0f%n",
        "peak RSS of the phase (MB)",
        "-",
        r.requireDouble("lora_peak_rss_mb"),
        r.requireDouble("full_peak_rss_mb"));
    System.out.printf(
        Locale.ROOT,
        "total %.0f s; report in report.json, adapter in adapter/%n",
        r.requireDouble("total_seconds"));
  }
}
