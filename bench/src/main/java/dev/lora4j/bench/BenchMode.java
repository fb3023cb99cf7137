package dev.lora4j.bench;

import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.compile.WeightVariable;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.model.Projection;
import dev.lora4j.model.RandomCheckpoint;
import dev.lora4j.train.OptimizerConfig;
import dev.lora4j.train.ScheduleConfig;
import dev.lora4j.train.TrainingGraph;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Measures one mode (forward, full, lora) of one config in this JVM and prints one JSON line; the
 * runner starts a JVM per mode so memory figures do not mix.
 */
public final class BenchMode {
  private BenchMode() {}

  /** A random checkpoint for the config, written once under cacheDir. */
  public static Path checkpoint(BenchConfig config, Path cacheDir) {
    Path dir = cacheDir.resolve("bench-" + config.name().toLowerCase());
    if (!Files.isRegularFile(dir.resolve("config.json"))) {
      RandomCheckpoint.write(dir, config.model, 1234);
    }
    return dir;
  }

  /** The one fixed batch every step runs on: seeded random ids [batch, seqLen]. */
  static int[][] fixedBatch(BenchConfig config, int seqLen) {
    int[][] ids = new int[config.batch][seqLen];
    SplittableRandom random = new SplittableRandom(7);
    for (int[] row : ids) {
      for (int t = 0; t < row.length; t++) {
        row[t] = random.nextInt(config.model.vocabSize());
      }
    }
    return ids;
  }

  /** A loss mask that scores every next-token position. */
  static float[][] fullMask(int[][] ids) {
    float[][] mask = new float[ids.length][ids[0].length - 1];
    for (float[] row : mask) {
      Arrays.fill(row, 1f);
    }
    return mask;
  }

  /** The compile options of a mode: full fine-tuning trains the base, the others freeze it. */
  static CompileOptions options(String mode, CompileOptions.Precision precision, boolean xla) {
    return CompileOptions.defaults()
        .withPrecision(precision)
        .withXla(xla)
        .withTrainableBase(mode.equals("full"));
  }

  /** The adapters of a mode: LoRA on the query and value projections for "lora", none otherwise. */
  static List<LoraModuleSpec> specs(String mode, Checkpoint checkpoint, int rank) {
    return mode.equals("lora") ? qvSpecs(checkpoint.architecture().projections(), rank) : List.of();
  }

  /** AdamW (lr 1e-4, weight decay 0.01) over every base weight (full) or the adapters (lora). */
  static TrainingGraph trainingGraph(CompiledModel model, String mode, long steps) {
    List<WeightVariable> params =
        mode.equals("full")
            ? List.copyOf(model.baseWeights().values())
            : model.trainableVariables();
    return new TrainingGraph(
        model,
        params,
        OptimizerConfig.adamW(1e-4, 0.01),
        ScheduleConfig.constant(),
        steps,
        null,
        1);
  }

  /**
   * LoRA r, alpha 2r on the q and v slices of every GPT-2 c_attn, or on every Llama q_proj and
   * v_proj (the LoRA paper's setup; {@link BenchConfig#queryValue}).
   */
  public static List<LoraModuleSpec> qvSpecs(List<Projection> projections, int rank) {
    List<LoraModuleSpec> specs = new ArrayList<>();
    for (Projection p : projections) {
      if (BenchConfig.queryValue(p)) {
        specs.add(
            new LoraModuleSpec(
                p.name(),
                rank,
                2.0 * rank,
                2.0,
                0,
                dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM,
                p.slices().isEmpty() ? List.of() : List.of("q", "v")));
      }
    }
    return specs;
  }

  public static BenchResult run(
      BenchConfig config,
      String mode,
      CompileOptions.Precision precision,
      boolean xla,
      Path cacheDir,
      int seqLen,
      int rank)
      throws IOException {
    if (mode.equals("peak")) {
      double gflops = MatmulPeak.gflops(config, seqLen, precision);
      return new BenchResult(
          config.name(),
          mode,
          precision.name().toLowerCase(),
          xla,
          Double.NaN,
          Double.NaN,
          Double.NaN,
          peakRssMb(),
          0,
          0,
          10,
          Double.NaN,
          gflops);
    }
    Path dir = checkpoint(config, cacheDir);
    int[][] ids = fixedBatch(config, seqLen);
    float[][] mask = fullMask(ids);
    CompileOptions options = options(mode, precision, xla);
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      List<LoraModuleSpec> specs = specs(mode, checkpoint, rank);
      try (CompiledModel model = ModelCompiler.compile(checkpoint, specs, options)) {
        long total = checkpoint.architecture().parameterCount();
        long trainable;
        Runnable step;
        if (mode.equals("forward")) {
          trainable = 0;
          step = () -> model.loss(ids);
        } else if (mode.equals("merged")) {
          // The same forward pass after merging a rank-8 adapter on the attention projections.
          trainable = 0;
          dev.lora4j.adapter.Merger.mergeInto(
              model, randomAdapter(checkpoint, cacheDir, rank, 1), +1);
          step = () -> model.loss(ids);
        } else if (mode.equals("generate")) {
          return generate(config, model, precision, xla, seqLen, total);
        } else if (mode.equals("swap")) {
          return swap(config, checkpoint, options, cacheDir, rank, seqLen, total);
        } else {
          TrainingGraph graph = trainingGraph(model, mode, 3 + config.measuredSteps + 1);
          trainable = graph.params().stream().mapToLong(WeightVariable::numel).sum();
          step = () -> graph.step(List.<int[][]>of(ids), List.<float[][]>of(mask), 0);
        }
        for (int i = 0; i < 3; i++) {
          step.run(); // warm-up: graph optimisation, XLA compilation, allocator growth
        }
        double[] millis = new double[config.measuredSteps];
        for (int i = 0; i < millis.length; i++) {
          long t0 = System.nanoTime();
          step.run();
          millis[i] = (System.nanoTime() - t0) / 1e6;
        }
        double[] sorted = millis.clone();
        Arrays.sort(sorted);
        double median = sorted[sorted.length / 2];
        return new BenchResult(
            config.name(),
            mode,
            precision.name().toLowerCase(),
            xla,
            median,
            sorted[0],
            config.batch * seqLen / (median / 1000),
            peakRssMb(),
            total + (mode.equals("lora") ? trainable : 0),
            trainable,
            millis.length,
            Double.NaN,
            MatmulPeak.stepFlops(config, seqLen, mode) / (median / 1000) / 1e9);
      }
    }
  }

  /**
   * A random adapter of the given rank on every whole c_attn (GPT-2) or q_proj and v_proj (Llama),
   * written once as a PEFT directory.
   */
  static dev.lora4j.adapter.PeftAdapter randomAdapter(
      Checkpoint checkpoint, Path cacheDir, int rank, int seed) {
    Path dir =
        cacheDir.resolve(
            "adapter-"
                + checkpoint.config().modelType()
                + "-"
                + checkpoint.config().hiddenSize()
                + "-r"
                + rank
                + "-"
                + seed);
    if (!Files.isRegularFile(dir.resolve(dev.lora4j.adapter.PeftAdapter.CONFIG_FILE))) {
      java.util.Map<String, dev.lora4j.adapter.LoraFactors> factors =
          new java.util.LinkedHashMap<>();
      java.util.Map<String, Double> scales = new java.util.LinkedHashMap<>();
      SplittableRandom random = new SplittableRandom(seed);
      for (Projection p : checkpoint.architecture().projections()) {
        if (BenchConfig.queryValue(p)) {
          float[] a = new float[rank * p.in()];
          float[] b = new float[p.out() * rank];
          for (int i = 0; i < a.length; i++) {
            a[i] = (float) random.nextDouble(-0.05, 0.05);
          }
          for (int i = 0; i < b.length; i++) {
            b[i] = (float) random.nextDouble(-0.05, 0.05);
          }
          factors.put(
              p.name(), new dev.lora4j.adapter.LoraFactors(p.name(), rank, p.in(), p.out(), a, b));
          scales.put(p.name(), 2.0);
        }
      }
      boolean fanInFanOut =
          checkpoint.architecture().projections().get(0).layout() == Projection.Layout.CONV1D;
      dev.lora4j.adapter.PeftAdapter.write(dir, factors, scales, false, fanInFanOut, 0, "bench");
    }
    return dev.lora4j.adapter.PeftAdapter.load(dir);
  }

  /** New tokens per timed generation, after a prompt of up to 32 ids of the fixed batch. */
  static final int GENERATED_TOKENS = 64;

  /**
   * Greedy generation as `lora4j generate` runs it (keys and values cached while the text fits the
   * positions): the median over 3 runs of milliseconds per new token.
   */
  static BenchResult generate(
      BenchConfig config,
      CompiledModel model,
      CompileOptions.Precision precision,
      boolean xla,
      int seqLen,
      long total)
      throws IOException {
    int[] prompt = Arrays.copyOf(fixedBatch(config, seqLen)[0], Math.min(32, seqLen));
    dev.lora4j.generate.Generator.generate(
        model,
        prompt,
        dev.lora4j.generate.SamplingOptions.greedy(2),
        java.util.OptionalInt.empty()); // warm-up
    double[] perToken = new double[3];
    for (int i = 0; i < perToken.length; i++) {
      long t0 = System.nanoTime();
      dev.lora4j.generate.Generator.generate(
          model,
          prompt,
          dev.lora4j.generate.SamplingOptions.greedy(GENERATED_TOKENS),
          java.util.OptionalInt.empty());
      perToken[i] = (System.nanoTime() - t0) / 1e6 / GENERATED_TOKENS;
    }
    Arrays.sort(perToken);
    double median = perToken[perToken.length / 2];
    return new BenchResult(
        config.name(),
        "generate",
        precision.name().toLowerCase(),
        xla,
        median,
        perToken[0],
        1000 / median,
        peakRssMb(),
        total,
        0,
        perToken.length,
        Double.NaN,
        Double.NaN);
  }

  /** Loading the base (open + compile + copy weights) against swapping adapters on it. */
  static BenchResult swap(
      BenchConfig config,
      Checkpoint checkpoint,
      CompileOptions options,
      Path cacheDir,
      int rank,
      int seqLen,
      long total)
      throws IOException {
    dev.lora4j.adapter.PeftAdapter first = randomAdapter(checkpoint, cacheDir, rank, 1);
    dev.lora4j.adapter.PeftAdapter second = randomAdapter(checkpoint, cacheDir, rank, 2);
    double[] loads = new double[3];
    for (int i = 0; i < loads.length; i++) {
      long t0 = System.nanoTime();
      try (Checkpoint c = Checkpoint.open(checkpoint.dir());
          CompiledModel m = ModelCompiler.compile(c, List.of(), options)) {
        loads[i] = (System.nanoTime() - t0) / 1e6;
      }
    }
    Arrays.sort(loads);
    try (CompiledModel model =
        ModelCompiler.compile(
            checkpoint,
            dev.lora4j.adapter.AdapterSet.capacity(
                checkpoint.architecture(), List.of(first, second)),
            options)) {
      dev.lora4j.adapter.AdapterSet set = new dev.lora4j.adapter.AdapterSet(model);
      set.add("first", first);
      set.add("second", second);
      double[] swaps = new double[config.measuredSteps * 2];
      for (int i = 0; i < swaps.length; i++) {
        long t0 = System.nanoTime();
        set.activate(i % 2 == 0 ? "second" : "first");
        swaps[i] = (System.nanoTime() - t0) / 1e6;
      }
      Arrays.sort(swaps);
      double median = swaps[swaps.length / 2];
      return new BenchResult(
          config.name(),
          "swap",
          options.precision().name().toLowerCase(),
          options.xla(),
          median,
          swaps[0],
          Double.NaN,
          peakRssMb(),
          total,
          0,
          swaps.length,
          loads[1],
          Double.NaN);
    }
  }

  /** Peak resident memory of this process (VmHWM, Linux), in MB; -1 elsewhere. */
  public static double peakRssMb() throws IOException {
    return procStatusMb("VmHWM:");
  }

  /** A kB field of /proc/self/status (VmHWM:, VmRSS:) in MB; -1 where there is none. */
  public static double procStatusMb(String key) throws IOException {
    Path status = Path.of("/proc/self/status");
    if (!Files.exists(status)) {
      return -1;
    }
    for (String line : Files.readAllLines(status)) {
      if (line.startsWith(key)) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
      }
    }
    return -1;
  }

  /** args: config mode precision xla cacheDir seqLen rank */
  public static void main(String[] args) throws IOException {
    BenchResult r =
        run(
            BenchConfig.valueOf(args[0]),
            args[1],
            CompileOptions.Precision.valueOf(args[2].toUpperCase()),
            Boolean.parseBoolean(args[3]),
            Path.of(args[4]),
            Integer.parseInt(args[5]),
            Integer.parseInt(args[6]));
    System.out.println(r.toJson());
  }
}
