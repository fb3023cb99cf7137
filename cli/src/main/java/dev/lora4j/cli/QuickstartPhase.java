package dev.lora4j.cli;

import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.LoraTargets;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.data.BatchIterator;
import dev.lora4j.data.BpeTrainer;
import dev.lora4j.data.DataFormat;
import dev.lora4j.data.DataOptions;
import dev.lora4j.data.SequenceDataset;
import dev.lora4j.data.Tokenizer;
import dev.lora4j.generate.Generator;
import dev.lora4j.generate.SamplingOptions;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.train.OptimizerConfig;
import dev.lora4j.train.ScheduleConfig;
import dev.lora4j.train.TrainConfig;
import dev.lora4j.train.Trainer;
import dev.lora4j.train.TrainingReport;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.zip.GZIPInputStream;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonObject;

/**
 * One phase of the quickstart, run in its own JVM so each phase's peak memory is its own:
 * `pretrain` (a small GPT-2 on the King James Bible, cached as a Hugging Face checkpoint), `lora`
 * and `full` (fine-tuning that base on fortunes). Prints one JSON line on stdout.
 */
public final class QuickstartPhase {
  static final int SEQ_LEN = 128;
  static final int BATCH = 16;
  static final int VOCAB = 2048;
  static final List<String> PROMPTS = List.of("The", "A wise man", "Love is");
  static final String LORA_TARGETS = "c_attn,mlp.c_fc";
  static final int LORA_RANK = 4;
  static final double FULL_LR = 5e-4;

  /** The LoRA learning rate; -Dlora4j.quickstart.lr overrides it for experiments. */
  static double loraLr() {
    return Double.parseDouble(System.getProperty("lora4j.quickstart.lr", "1e-2"));
  }

  private QuickstartPhase() {}

  /** args: phase dataDir outDir steps seed */
  public static void main(String[] args) throws Exception {
    String phase = args[0];
    Path data = Path.of(args[1]);
    Path out = Path.of(args[2]);
    long steps = Long.parseLong(args[3]);
    long seed = Long.parseLong(args[4]);
    Map<String, JsonElement> result =
        switch (phase) {
          case "pretrain" -> pretrain(data, out, steps, seed);
          case "lora" -> fineTune(data, out, steps, seed, false);
          case "full" -> fineTune(data, out, steps, seed, true);
          default -> throw new IllegalArgumentException("unknown phase " + phase);
        };
    result.put("peak_rss_mb", JsonElementKt.JsonPrimitive(dev.lora4j.bench.BenchMode.peakRssMb()));
    System.out.println(new JsonObject(result));
  }

  static String readGzip(Path file) throws IOException {
    try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /**
   * Trains the tokenizer and the base model in a temporary directory next to the cache and renames
   * it into place at the end, so an interrupted run never leaves a half-written base.
   */
  static Map<String, JsonElement> pretrain(Path data, Path out, long steps, long seed)
      throws IOException {
    long start = System.nanoTime();
    DataOptions options =
        new DataOptions(
            DataFormat.TEXT, "text", "prompt", "completion", SEQ_LEN, 0.02, seed, true, null);
    TrainingReport report;
    try (ConsoleProgress progress = new ConsoleProgress("pretrain base on the King James Bible")) {
      report =
          Pretraining.run(
              List.of(data.resolve("kjv.txt.gz")),
              new Pretraining.Shape("gpt2", 4, 192, 6, 6, 768, SEQ_LEN),
              null,
              VOCAB,
              options,
              steps,
              BATCH,
              2e-3,
              seed,
              out.resolve("base"),
              List.of(progress));
    }
    Map<String, JsonElement> result = new LinkedHashMap<>();
    result.put("pretrain_steps", JsonElementKt.JsonPrimitive(report.steps()));
    result.put("pretrain_tokens", JsonElementKt.JsonPrimitive(report.steps() * BATCH * SEQ_LEN));
    result.put(
        "pretrain_val_ppl", JsonElementKt.JsonPrimitive(Math.exp(report.finalValidationLoss())));
    result.put("pretrain_seconds", JsonElementKt.JsonPrimitive((System.nanoTime() - start) / 1e9));
    return result;
  }

  static Map<String, JsonElement> fineTune(Path data, Path out, long steps, long seed, boolean full)
      throws IOException {
    Path base = out.resolve("base");
    Tokenizer tokenizer = Tokenizer.forCheckpoint(base);
    Path corpus = data.resolve("fortunes.txt.gz");
    Map<String, JsonElement> result = new LinkedHashMap<>();
    try (Checkpoint checkpoint = Checkpoint.open(base)) {
      DataOptions options =
          new DataOptions(
              DataFormat.TEXT, "text", "prompt", "completion", SEQ_LEN, 0.1, 0, true, "%");
      SequenceDataset dataset =
          SequenceDataset.load(
              List.of(corpus), options, tokenizer, checkpoint.config().vocabSize());
      List<LoraModuleSpec> specs =
          full
              ? List.of()
              : LoraTargets.fromPatterns(
                  List.of(System.getProperty("lora4j.quickstart.targets", LORA_TARGETS).split(",")),
                  Integer.getInteger("lora4j.quickstart.rank", LORA_RANK),
                  2.0 * Integer.getInteger("lora4j.quickstart.rank", LORA_RANK),
                  false,
                  0.0,
                  dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM,
                  checkpoint.architecture().projections());
      try (CompiledModel model =
          ModelCompiler.compile(
              checkpoint,
              specs,
              CompileOptions.defaults().withSeed(seed).withTrainableBase(full))) {
        TrainingReport report;
        try (ConsoleProgress progress =
            new ConsoleProgress(
                full ? "full fine-tuning on fortunes" : "LoRA fine-tuning on fortunes")) {
          Trainer trainer =
              new Trainer(
                  model,
                  TrainConfig.defaults(
                          OptimizerConfig.adamW(full ? FULL_LR : loraLr(), 0.0), steps, BATCH)
                      .withSchedule(
                          ScheduleConfig.of(
                              ScheduleConfig.Kind.COSINE, Math.min(30, steps / 10), 0.1))
                      .withMaxGradNorm(1.0)
                      .withSeed(seed)
                      .withFullFineTune(full),
                  "lora4j-quickstart-base",
                  List.of(progress));
          if (!full) {
            // A fresh adapter (B = 0) is exactly the base: its validation loss is the base's.
            double baseLoss = trainer.evaluator().meanLoss(dataset.validation(), BATCH);
            result.put("base_ppl", JsonElementKt.JsonPrimitive(Math.exp(baseLoss)));
            result.put(
                "base_params",
                JsonElementKt.JsonPrimitive(checkpoint.architecture().parameterCount()));
            result.put(
                "base_bytes",
                JsonElementKt.JsonPrimitive(Files.size(base.resolve("model.safetensors"))));
          }
          report =
              trainer.fit(
                  new BatchIterator(dataset.train(), BATCH, seed, true, true),
                  dataset.validation(),
                  null,
                  null);
        }
        String prefix = full ? "full" : "lora";
        result.put(
            prefix + "_ppl", JsonElementKt.JsonPrimitive(Math.exp(report.finalValidationLoss())));
        result.put(prefix + "_step_ms", JsonElementKt.JsonPrimitive(report.stepMillisMedian()));
        result.put(prefix + "_steps", JsonElementKt.JsonPrimitive(report.steps()));
        if (!full) {
          result.put("trainable_params", JsonElementKt.JsonPrimitive(report.trainableParams()));
          Path adapterDir = out.resolve("adapter");
          if (Files.exists(adapterDir)) {
            dev.lora4j.io.AtomicFiles.deleteTree(adapterDir);
          }
          PeftAdapter.save(model, adapterDir, "runs/quickstart/base");
          result.put(
              "adapter_bytes",
              JsonElementKt.JsonPrimitive(
                  Files.size(adapterDir.resolve(PeftAdapter.WEIGHTS_FILE))));
          // Sampling runs many sequence lengths through the session, which slows later training
          // steps of the same session (seen with oneDNN): so it comes after training.
          result.put("lora_samples", samples(model, tokenizer, seed));
        }
      }
      if (!full) {
        try (CompiledModel plain =
            ModelCompiler.compile(
                checkpoint, List.of(), CompileOptions.defaults().withSeed(seed))) {
          result.put("base_samples", samples(plain, tokenizer, seed));
        }
      }
    }
    return result;
  }

  static JsonArray samples(CompiledModel model, Tokenizer tokenizer, long seed) {
    List<JsonElement> texts = new ArrayList<>();
    OptionalInt eos = tokenizer.eosTokenId();
    for (String prompt : PROMPTS) {
      int[] ids =
          Generator.generate(
              model, tokenizer.encode(prompt), new SamplingOptions(40, 0.8, 40, 0.95, seed), eos);
      String text = tokenizer.decode(ids).replace(BpeTrainer.END_OF_TEXT, "").strip();
      texts.add(JsonElementKt.JsonPrimitive(text));
    }
    return new JsonArray(texts);
  }

  static void writeReport(Path file, Map<String, JsonElement> report) {
    AtomicFiles.writeString(file, new JsonObject(report) + "\n");
  }
}
