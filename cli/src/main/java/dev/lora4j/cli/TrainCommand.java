package dev.lora4j.cli;

import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.LoraTargets;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.data.BatchIterator;
import dev.lora4j.data.DataOptions;
import dev.lora4j.data.SequenceDataset;
import dev.lora4j.data.Tokenizer;
import dev.lora4j.dsl.LoraInit;
import dev.lora4j.io.CheckpointException;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.train.OptimizerConfig;
import dev.lora4j.train.ScheduleConfig;
import dev.lora4j.train.TrainConfig;
import dev.lora4j.train.Trainer;
import dev.lora4j.train.TrainingReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** `lora4j train`: LoRA (or full) fine-tuning of a Hugging Face checkpoint on a dataset. */
@Command(
    name = "train",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Fine-tunes a Hugging Face checkpoint with LoRA adapters (or, with --full, every weight) on"
          + " a text, JSONL or pre-tokenized dataset. Writes checkpoints under --out/checkpoints,"
          + " the final adapter as a PEFT directory in --out/adapter and a summary in"
          + " --out/report.json."
    })
final class TrainCommand implements Callable<Integer> {
  @picocli.CommandLine.Parameters(
      index = "0",
      arity = "0..1",
      paramLabel = "PLAN",
      description = "A plan file (plan.json or plan.lora.kts) instead of --model/--data/--target.")
  Path planFile;

  @Option(names = "--model", paramLabel = "DIR", description = "Base checkpoint.")
  Path model;

  @Option(
      names = "--data",
      paramLabel = "FILE",
      description =
          "Training data (repeatable): .txt[.gz], .jsonl with a text field,"
              + " prompt/completion JSONL, or {\"input_ids\": [...]} JSONL.")
  List<Path> data;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "Run directory.")
  Path out;

  @Option(
      names = "--init-adapter",
      paramLabel = "DIR",
      description = "Start from this PEFT adapter (its targets, ranks and alphas).")
  Path initAdapter;

  @Option(
      names = "--target",
      paramLabel = "PATTERN",
      description =
          "Projection to adapt (repeatable): a name suffix (q_proj, mlp.c_proj), a regex,"
              + " all-linear, optionally with slices of a fused projection: c_attn[q,v].")
  List<String> targets = new ArrayList<>();

  @Option(
      names = "--rank",
      defaultValue = "8",
      description = "LoRA rank r. Default: ${DEFAULT-VALUE}.")
  int rank;

  @Option(
      names = "--alpha",
      defaultValue = "16",
      description = "LoRA alpha (scale alpha/r). Default: ${DEFAULT-VALUE}.")
  double alpha;

  @Option(
      names = "--dropout",
      defaultValue = "0",
      description = "Dropout on the adapter input. Default: ${DEFAULT-VALUE}.")
  double dropout;

  @Option(
      names = "--init",
      defaultValue = "kaiming",
      description = "A's init: kaiming or gaussian. Default: ${DEFAULT-VALUE}.")
  String init;

  @Option(names = "--rslora", description = "Scale by alpha/sqrt(r) (rank-stabilised LoRA).")
  boolean rsLora;

  @Option(
      names = "--full",
      description = "Full fine-tuning: every base weight trains (the baseline).")
  boolean full;

  @Option(names = "--steps", paramLabel = "N", description = "Optimizer updates (or --epochs).")
  Long steps;

  @Option(names = "--epochs", paramLabel = "X", description = "Passes over the training rows.")
  Double epochs;

  @Option(
      names = "--batch-size",
      defaultValue = "8",
      description = "Rows per micro-batch. Default: ${DEFAULT-VALUE}.")
  int batchSize;

  @Option(
      names = "--seq-len",
      defaultValue = "128",
      description = "Tokens per row. Default: ${DEFAULT-VALUE}.")
  int seqLen;

  @Option(
      names = "--optimizer",
      defaultValue = "adamw",
      description = "adamw or sgd. Default: ${DEFAULT-VALUE}.")
  String optimizer;

  @Option(
      names = "--lr",
      defaultValue = "2e-4",
      description = "Learning rate. Default: ${DEFAULT-VALUE}.")
  double lr;

  @Option(
      names = "--betas",
      defaultValue = "0.9,0.999",
      split = ",",
      description = "AdamW betas. Default: ${DEFAULT-VALUE}.")
  double[] betas;

  @Option(
      names = "--eps",
      defaultValue = "1e-8",
      description = "AdamW eps. Default: ${DEFAULT-VALUE}.")
  double eps;

  @Option(
      names = "--weight-decay",
      defaultValue = "0",
      description = "Decoupled weight decay. Default: ${DEFAULT-VALUE}.")
  double weightDecay;

  @Option(
      names = "--momentum",
      defaultValue = "0",
      description = "SGD momentum. Default: ${DEFAULT-VALUE}.")
  double momentum;

  @Option(
      names = "--lora-plus-ratio",
      defaultValue = "1",
      description = "LoRA+: B learns at lr x ratio. Default: ${DEFAULT-VALUE}.")
  double loraPlusRatio;

  @Option(
      names = "--max-grad-norm",
      paramLabel = "X",
      description = "Clip the global gradient norm.")
  Double maxGradNorm;

  @Option(
      names = "--schedule",
      defaultValue = "constant",
      description = "constant, linear or cosine. Default: ${DEFAULT-VALUE}.")
  String schedule;

  @Option(
      names = "--warmup",
      defaultValue = "0",
      paramLabel = "N|RATIO",
      description = "Warm-up: steps (100) or a ratio of the run (0.03). Default: ${DEFAULT-VALUE}.")
  String warmup;

  @Option(
      names = "--min-lr-ratio",
      defaultValue = "0",
      description = "Decay floor as a fraction of --lr. Default: ${DEFAULT-VALUE}.")
  double minLrRatio;

  @Option(
      names = "--grad-accum",
      defaultValue = "1",
      description = "Micro-batches per update. Default: ${DEFAULT-VALUE}.")
  int gradAccum;

  @Option(
      names = "--precision",
      defaultValue = "f32",
      description = "f32 or bf16 compute. Default: ${DEFAULT-VALUE}.")
  String precision;

  @Option(names = "--xla", description = "XLA auto-clustering on the CPU.")
  boolean xla;

  @Option(
      names = "--seed",
      defaultValue = "42",
      description = "Seed for init, shuffling, dropout. Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--no-shuffle", description = "Visit rows in file order.")
  boolean noShuffle;

  @Mixin DataFileOptions dataFiles;

  @Option(
      names = "--validation-split",
      defaultValue = "0.1",
      description = "Share of rows held out. Default: ${DEFAULT-VALUE}.")
  double validationSplit;

  @Option(
      names = "--eval-every",
      defaultValue = "0",
      description = "Validate every N updates (0: at the end). Default: ${DEFAULT-VALUE}.")
  int evalEvery;

  @Option(
      names = "--early-stopping",
      defaultValue = "0",
      paramLabel = "PATIENCE",
      description = "Stop after N evaluations without improvement (0: off).")
  int patience;

  @Option(
      names = "--checkpoint-every",
      defaultValue = "0",
      description = "Checkpoint every N updates (0: at the end). Default: ${DEFAULT-VALUE}.")
  int checkpointEvery;

  @Option(
      names = "--keep-checkpoints",
      defaultValue = "3",
      description = "Checkpoints kept. Default: ${DEFAULT-VALUE}.")
  int keepCheckpoints;

  @Option(names = "--resume", description = "Continue the run in --out from its newest checkpoint.")
  boolean resume;

  @Option(
      names = "--device",
      defaultValue = "cpu",
      description = "cpu or gpu. Default: ${DEFAULT-VALUE}.")
  CompileOptions.Device device;

  @Mixin QuantizeOptions quantize;

  @Override
  public Integer call() throws Exception {
    if (planFile != null) {
      return runPlan();
    }
    if (model == null || data == null || data.isEmpty()) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "give a PLAN file, or --model DIR and --data FILE");
    }
    if ((steps == null) == (epochs == null)) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "give exactly one of --steps N or --epochs X");
    }
    if (betas.length != 2) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "--betas takes two numbers, e.g. 0.9,0.999");
    }
    LoraInit loraInit = CliParsing.loraInit(init); // flag mistakes before the data is read
    if (full && quantize.quantization().enabled()) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this),
          "--full trains every base weight, which needs them in float32; drop --quantize-base"
              + " for full fine-tuning, or drop --full to train LoRA adapters over the quantized"
              + " base");
    }
    try (RunDirectory run = RunDirectory.open(out, resume);
        Checkpoint checkpoint = Checkpoint.open(model)) {
      // What the model cannot take is refused before the data is read.
      checkpoint.config().requireSeqLenFits(seqLen);
      PeftAdapter start = initAdapter == null ? null : PeftAdapter.load(initAdapter);
      List<LoraModuleSpec> specs = List.of();
      if (!full) {
        specs =
            start != null
                ? start.specsFor(checkpoint.architecture())
                : LoraTargets.fromPatterns(
                    targets,
                    rank,
                    alpha,
                    rsLora,
                    dropout,
                    loraInit,
                    checkpoint.architecture().projections());
        ModelCompiler.validate(checkpoint.architecture(), specs);
      }
      // Pre-tokenized data needs no tokenizer; checkpoints without tokenizer files still train on
      // it.
      Tokenizer tokenizer = Tokenizer.forCheckpointIfPresent(model);
      DataOptions dataOptions = dataFiles.dataOptions(seqLen, validationSplit, seed);
      SequenceDataset dataset =
          SequenceDataset.load(data, dataOptions, tokenizer, checkpoint.config().vocabSize());
      long totalSteps =
          steps != null
              ? steps
              : (long)
                  Math.ceil(epochs * dataset.train().size() / (double) (batchSize * gradAccum));
      TrainConfig config = trainConfig(totalSteps);
      config.validate();
      CompileOptions options =
          CompileOptions.defaults()
              .withDevice(device)
              .withXla(xla)
              .withSeed(seed)
              .withPrecision(CliParsing.precision(precision))
              .withQuantization(quantize.quantization())
              .withTrainableBase(full);
      try (CompiledModel compiled = ModelCompiler.compile(checkpoint, specs, options)) {
        QuantizeOptions.report(compiled);
        if (start != null) {
          start.applyTo(compiled);
        }
        ConsoleProgress progress = new ConsoleProgress("train");
        Trainer trainer =
            new Trainer(compiled, config, model.getFileName().toString(), List.of(progress));
        BatchIterator batches =
            new BatchIterator(dataset.train(), batchSize, seed, !noShuffle, false);
        TrainingReport report;
        try {
          report = trainer.fit(batches, dataset.validation(), out, resume ? out : null);
        } finally {
          progress.close();
        }
        RunReports.write(out.resolve("report.json"), report);
        double validation = report.finalValidationLoss();
        System.out.printf(
            "trained %d steps: final loss %.4f, %s; %s%n",
            report.steps(),
            report.losses().isEmpty()
                ? Double.NaN
                : report.losses().get(report.losses().size() - 1),
            Double.isNaN(validation)
                ? "no validation rows (--validation-split 0, or too little data)"
                : String.format(
                    java.util.Locale.ROOT,
                    "validation loss %.4f (perplexity %.2f)",
                    validation,
                    Math.exp(validation)),
            full ? "no adapter (full fine-tuning)" : "adapter in " + out.resolve("adapter"));
      }
    }
    return 0;
  }

  /** `lora4j train plan.lora.kts --out DIR`: everything but the output comes from the plan. */
  private int runPlan() throws Exception {
    dev.lora4j.dsl.LoraPlan plan = Plans.load(planFile);
    try (RunDirectory run = RunDirectory.open(out, resume);
        ConsoleProgress progress = new ConsoleProgress("train " + planFile.getFileName())) {
      TrainingReport report = dev.lora4j.train.PlanRunner.run(plan, out, resume, List.of(progress));
      progress.close();
      RunReports.write(out.resolve("report.json"), report);
      System.out.printf(
          "trained %d steps of %s: validation loss %.4f; adapter in %s%n",
          report.steps(), planFile, report.finalValidationLoss(), out.resolve("adapter"));
    }
    return 0;
  }

  private TrainConfig trainConfig(long totalSteps) {
    OptimizerConfig opt =
        switch (optimizer.toLowerCase()) {
          case "adamw" ->
              OptimizerConfig.adamW(lr, weightDecay).withBetas(betas[0], betas[1]).withEps(eps);
          case "sgd" ->
              new OptimizerConfig(
                  OptimizerConfig.Kind.SGD, lr, 0.9, 0.999, eps, weightDecay, momentum, 1);
          default ->
              throw new IllegalArgumentException(
                  "--optimizer must be adamw or sgd, was '" + optimizer + "'");
        };
    opt = opt.withLoraPlusRatio(loraPlusRatio);
    ScheduleConfig.Kind kind = CliParsing.scheduleKind(schedule);
    ScheduleConfig sched =
        warmup.contains(".")
            ? ScheduleConfig.withWarmupRatio(kind, Double.parseDouble(warmup), minLrRatio)
            : ScheduleConfig.of(kind, Long.parseLong(warmup), minLrRatio);
    return TrainConfig.defaults(opt, totalSteps, batchSize)
        .withSchedule(sched)
        .withGradAccumulation(gradAccum)
        .withMaxGradNorm(maxGradNorm)
        .withSeed(seed)
        .withEvaluation(evalEvery, patience, 0)
        .withCheckpoints(checkpointEvery, keepCheckpoints)
        .withFullFineTune(full);
  }

  static void requireFile(Path file) {
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
      throw new CheckpointException(file + ": not a readable file");
    }
  }
}
