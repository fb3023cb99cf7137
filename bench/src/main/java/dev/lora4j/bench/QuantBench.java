package dev.lora4j.bench;

import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.LoraTargets;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.compile.WeightVariable;
import dev.lora4j.data.BatchIterator;
import dev.lora4j.data.DataFormat;
import dev.lora4j.data.DataOptions;
import dev.lora4j.data.SequenceDataset;
import dev.lora4j.data.Tokenizer;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.model.Projection;
import dev.lora4j.quant.Quantization;
import dev.lora4j.quant.QuantizedWeight;
import dev.lora4j.train.OptimizerConfig;
import dev.lora4j.train.ScheduleConfig;
import dev.lora4j.train.TrainConfig;
import dev.lora4j.train.Trainer;
import dev.lora4j.train.TrainingGraph;
import dev.lora4j.train.TrainingReport;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import kotlinx.serialization.json.Json;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonObject;
import kotlinx.serialization.json.JsonPrimitive;

/**
 * The quantized-base table: for each storage of the frozen projections (f32, bf16, int8, nf4,
 * nf4-dq), in its own JVM so memory figures do not mix,
 *
 * <ul>
 *   <li>"memory": bytes of the frozen weights and peak RSS during LoRA training of a random model
 *       of a bench config's shape (B: GPT-2 small), LoRA r 8 on c_attn[q, v] as in {@link
 *       BenchMode}. The checkpoint is closed and the peak counter reset (/proc/self/clear_refs)
 *       after loading, so the peak is the training's, not the file's.
 *   <li>"quickstart": validation perplexity on the fortunes rows of the quickstart base, and of a
 *       LoRA adapter trained over that storage with the quickstart's LoRA settings.
 * </ul>
 */
public final class QuantBench {
  // The quickstart's LoRA phase (cli QuickstartPhase): seq 128, batch 16, r 4 on c_attn and
  // mlp.c_fc, AdamW 3e-3 without decay, cosine with a short warm-up, clipping at 1.
  static final int SEQ_LEN = 128;
  static final int BATCH = 16;
  static final List<String> TARGETS = List.of("c_attn", "mlp.c_fc");
  static final int RANK = 4;
  static final double LR = 3e-3;
  static final long SEED = 1;

  private QuantBench() {}

  /** f32, bf16, int8, nf4 or nf4-dq. */
  public static Quantization storage(String name) {
    return Quantization.parse(name, false);
  }

  public static void run(
      BenchConfig config,
      List<String> storages,
      int steps,
      Path cacheDir,
      Path quickstartBase,
      Path data,
      long quickstartSteps,
      PrintStream out)
      throws IOException, InterruptedException {
    BenchMode.checkpoint(config, cacheDir); // written once, before any child runs
    List<Map<String, String>> memory = new ArrayList<>();
    for (String storage : storages) {
      memory.add(
          child(
              List.of(
                  "memory", config.name(), storage, cacheDir.toString(), String.valueOf(steps))));
    }
    printMemory(config, memory, out);
    if (!Files.isRegularFile(quickstartBase.resolve("model.safetensors"))) {
      out.println(
          "no quickstart base in "
              + quickstartBase
              + ": run lora4j quickstart first for the perplexity rows");
      return;
    }
    List<Map<String, String>> quality = new ArrayList<>();
    for (String storage : storages) {
      quality.add(
          child(
              List.of(
                  "quickstart",
                  storage,
                  quickstartBase.toString(),
                  data.toString(),
                  String.valueOf(quickstartSteps))));
    }
    printQuality(quickstartBase, quickstartSteps, quality, out);
  }

  private static Map<String, String> child(List<String> args)
      throws IOException, InterruptedException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command =
        new ArrayList<>(
            List.of(
                java,
                "-Xmx4g",
                "-cp",
                System.getProperty("java.class.path"),
                QuantBench.class.getName()));
    command.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD);
    pb.environment().putIfAbsent("TF_CPP_MIN_LOG_LEVEL", "2");
    Process p = pb.start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    if (p.waitFor() != 0 || output.isEmpty()) {
      throw new IOException("bench-quant " + args + " failed: " + output);
    }
    String line = output.substring(output.lastIndexOf('\n') + 1);
    Map<String, String> row = new LinkedHashMap<>();
    JsonObject json = (JsonObject) Json.Default.parseToJsonElement(line);
    for (Map.Entry<String, JsonElement> e : json.entrySet()) {
      row.put(e.getKey(), ((JsonPrimitive) e.getValue()).getContent());
    }
    return row;
  }

  private static void printMemory(
      BenchConfig config, List<Map<String, String>> rows, PrintStream out) {
    out.printf(
        Locale.ROOT,
        "frozen base storage, config %s (%s; LoRA r 8 on the query and value projections,"
            + " seq %d, batch %d, AdamW)%n",
        config.name(),
        config.describe(),
        config.seqLen,
        config.batch);
    out.printf(
        Locale.ROOT,
        "%-8s %16s %9s %16s %14s %16s %10s%n",
        "storage",
        "projections MB",
        "B/weight",
        "all frozen MB",
        "RSS loaded MB",
        "peak RSS train",
        "step ms");
    double f32 = Double.NaN;
    for (Map<String, String> r : rows) {
      double projection = Double.parseDouble(r.get("projection_bytes"));
      double weights = Double.parseDouble(r.get("projection_weights"));
      if (r.get("storage").equals("f32")) {
        f32 = projection;
      }
      out.printf(
          Locale.ROOT,
          "%-8s %16.1f %9.4f %16.1f %14.0f %16.0f %10.0f%n",
          r.get("storage"),
          projection / 1e6,
          projection / weights,
          Double.parseDouble(r.get("frozen_bytes")) / 1e6,
          Double.parseDouble(r.get("rss_after_load_mb")),
          Double.parseDouble(r.get("train_peak_rss_mb")),
          Double.parseDouble(r.get("step_ms")));
    }
    if (!Double.isNaN(f32)) {
      StringBuilder ratios = new StringBuilder("projection bytes, f32 = 4:");
      for (Map<String, String> r : rows) {
        ratios.append(
            String.format(
                Locale.ROOT,
                " %s %.3f",
                r.get("storage"),
                4 * Double.parseDouble(r.get("projection_bytes")) / f32));
      }
      out.println(ratios);
    }
    out.println(
        "(embeddings, norms, biases and the head stay float32 in every row; the peak RSS is"
            + " measured after loading, over the training steps"
            + (rows.stream().anyMatch(r -> r.get("peak_reset").equals("false"))
                ? "; clear_refs was refused, so it includes loading"
                : "")
            + ")");
  }

  private static void printQuality(
      Path base, long steps, List<Map<String, String>> rows, PrintStream out) {
    out.println();
    out.printf(
        Locale.ROOT,
        "quickstart base %s, fortunes validation rows; LoRA r %d on %s, %d steps%n",
        base,
        RANK,
        TARGETS,
        steps);
    out.printf(
        Locale.ROOT,
        "%-8s %14s %14s %14s %10s %14s%n",
        "storage",
        "frozen MB",
        "base ppl",
        "LoRA ppl",
        "step ms",
        "peak RSS MB");
    for (Map<String, String> r : rows) {
      out.printf(
          Locale.ROOT,
          "%-8s %14.2f %14.2f %14.2f %10.0f %14.0f%n",
          r.get("storage"),
          Double.parseDouble(r.get("frozen_bytes")) / 1e6,
          Double.parseDouble(r.get("base_ppl")),
          Double.parseDouble(r.get("lora_ppl")),
          Double.parseDouble(r.get("step_ms")),
          Double.parseDouble(r.get("peak_rss_mb")));
    }
  }

  /** Bytes of the frozen weights: float32 variables plus the quantized projections' storage. */
  static long[] frozenBytes(CompiledModel model) {
    long projection = 0;
    long weights = 0;
    long other = 0;
    java.util.Set<String> projectionKeys = new java.util.HashSet<>();
    for (Projection p : model.architecture().projections()) {
      projectionKeys.add(p.weightKey());
      weights += (long) p.in() * p.out();
    }
    for (WeightVariable w : model.baseWeights().values()) {
      if (projectionKeys.contains(w.name())) {
        projection += 4 * w.numel();
      } else {
        other += 4 * w.numel();
      }
    }
    for (QuantizedWeight q : model.quantizedWeights().values()) {
      projection += q.storedBytes();
    }
    return new long[] {projection, weights, projection + other};
  }

  /** One child: args[0] is memory (config storage cacheDir steps) or quickstart. */
  public static void main(String[] args) throws Exception {
    Map<String, JsonElement> result =
        switch (args[0]) {
          case "memory" ->
              memory(
                  BenchConfig.valueOf(args[1]),
                  args[2],
                  Path.of(args[3]),
                  Integer.parseInt(args[4]));
          case "quickstart" ->
              quickstart(args[1], Path.of(args[2]), Path.of(args[3]), Long.parseLong(args[4]));
          default -> throw new IllegalArgumentException("unknown bench-quant child " + args[0]);
        };
    System.out.println(new JsonObject(result));
  }

  static Map<String, JsonElement> memory(BenchConfig config, String storage, Path cache, int steps)
      throws IOException {
    Path dir = BenchMode.checkpoint(config, cache);
    CompileOptions options = CompileOptions.defaults().withQuantization(storage(storage));
    CompiledModel model;
    long loadStart = System.nanoTime();
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      List<LoraModuleSpec> specs = BenchMode.qvSpecs(checkpoint.architecture().projections(), 8);
      model = ModelCompiler.compile(checkpoint, specs, options);
    } // closing the checkpoint unmaps the file: its pages leave this process's RSS
    double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
    try (CompiledModel m = model) {
      long[] bytes = frozenBytes(m);
      double loadPeak = status("VmHWM:");
      System.gc();
      boolean reset = resetPeak();
      double afterLoad = status("VmRSS:");
      int[][] ids = new int[config.batch][config.seqLen];
      SplittableRandom random = new SplittableRandom(7);
      for (int[] row : ids) {
        for (int t = 0; t < row.length; t++) {
          row[t] = random.nextInt(config.model.vocabSize());
        }
      }
      float[][] mask = new float[config.batch][config.seqLen - 1];
      for (float[] row : mask) {
        Arrays.fill(row, 1f);
      }
      TrainingGraph graph =
          new TrainingGraph(
              m,
              m.trainableVariables(),
              OptimizerConfig.adamW(1e-4, 0.01),
              ScheduleConfig.constant(),
              steps + 3,
              null,
              1);
      double[] millis = new double[steps];
      for (int i = -2; i < steps; i++) {
        long t0 = System.nanoTime();
        graph.step(List.<int[][]>of(ids), List.<float[][]>of(mask), 0);
        if (i >= 0) {
          millis[i] = (System.nanoTime() - t0) / 1e6;
        }
      }
      Arrays.sort(millis);
      Map<String, JsonElement> r = new LinkedHashMap<>();
      r.put("storage", JsonElementKt.JsonPrimitive(storage));
      r.put("projection_bytes", JsonElementKt.JsonPrimitive(bytes[0]));
      r.put("projection_weights", JsonElementKt.JsonPrimitive(bytes[1]));
      r.put("frozen_bytes", JsonElementKt.JsonPrimitive(bytes[2]));
      r.put("load_seconds", JsonElementKt.JsonPrimitive(loadSeconds));
      r.put("load_peak_rss_mb", JsonElementKt.JsonPrimitive(loadPeak));
      r.put("rss_after_load_mb", JsonElementKt.JsonPrimitive(afterLoad));
      r.put("train_peak_rss_mb", JsonElementKt.JsonPrimitive(status("VmHWM:")));
      r.put("peak_reset", JsonElementKt.JsonPrimitive(reset));
      r.put("step_ms", JsonElementKt.JsonPrimitive(millis[millis.length / 2]));
      return r;
    }
  }

  static Map<String, JsonElement> quickstart(String storage, Path base, Path data, long steps)
      throws IOException {
    Tokenizer tokenizer = Tokenizer.forCheckpoint(base);
    Map<String, JsonElement> r = new LinkedHashMap<>();
    r.put("storage", JsonElementKt.JsonPrimitive(storage));
    try (Checkpoint checkpoint = Checkpoint.open(base)) {
      DataOptions options =
          new DataOptions(
              DataFormat.TEXT, "text", "prompt", "completion", SEQ_LEN, 0.1, 0, true, "%");
      SequenceDataset dataset =
          SequenceDataset.load(
              List.of(data.resolve("fortunes.txt.gz")),
              options,
              tokenizer,
              checkpoint.config().vocabSize());
      List<LoraModuleSpec> specs =
          LoraTargets.fromPatterns(
              TARGETS,
              RANK,
              2.0 * RANK,
              false,
              0.0,
              dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM,
              checkpoint.architecture().projections());
      CompileOptions compile =
          CompileOptions.defaults().withSeed(SEED).withQuantization(storage(storage));
      try (CompiledModel model = ModelCompiler.compile(checkpoint, specs, compile)) {
        r.put("frozen_bytes", JsonElementKt.JsonPrimitive(frozenBytes(model)[2]));
        long total = Math.max(1, steps);
        Trainer trainer =
            new Trainer(
                model,
                TrainConfig.defaults(OptimizerConfig.adamW(LR, 0.0), total, BATCH)
                    .withSchedule(
                        ScheduleConfig.of(
                            ScheduleConfig.Kind.COSINE, Math.min(30, total / 10), 0.1))
                    .withMaxGradNorm(1.0)
                    .withSeed(SEED),
                "quickstart-base",
                List.of());
        // A fresh adapter (B = 0) is exactly the base on this storage.
        double baseLoss = trainer.evaluator().meanLoss(dataset.validation(), BATCH);
        r.put("base_ppl", JsonElementKt.JsonPrimitive(Math.exp(baseLoss)));
        double loraPpl = -1; // -1: no LoRA steps were asked for
        double stepMs = -1;
        if (steps > 0) {
          TrainingReport report =
              trainer.fit(
                  new BatchIterator(dataset.train(), BATCH, SEED, true, true),
                  dataset.validation(),
                  null,
                  null);
          loraPpl = Math.exp(report.finalValidationLoss());
          stepMs = report.stepMillisMedian();
        }
        r.put("lora_ppl", JsonElementKt.JsonPrimitive(loraPpl));
        r.put("step_ms", JsonElementKt.JsonPrimitive(stepMs));
        r.put("validation_rows", JsonElementKt.JsonPrimitive(dataset.validation().size()));
      }
    }
    r.put("peak_rss_mb", JsonElementKt.JsonPrimitive(status("VmHWM:")));
    return r;
  }

  static double status(String key) throws IOException {
    return BenchMode.procStatusMb(key);
  }

  /** Resets VmHWM to the current RSS (Linux 4.0+); false where the kernel refuses. */
  static boolean resetPeak() {
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
      return true;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }
}
