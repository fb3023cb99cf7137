package dev.lora4j.train;

import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.LoraTargets;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.data.BatchIterator;
import dev.lora4j.data.DataFormat;
import dev.lora4j.data.DataOptions;
import dev.lora4j.data.Sequence;
import dev.lora4j.data.SequenceDataset;
import dev.lora4j.data.Tokenizer;
import dev.lora4j.dsl.DataPlan;
import dev.lora4j.dsl.LoraPlan;
import dev.lora4j.dsl.Optimizer;
import dev.lora4j.dsl.Schedule;
import dev.lora4j.dsl.TrainingPlan;
import dev.lora4j.dsl.Warmup;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a {@link LoraPlan}: the plan's base checkpoint, targets, training schedule and data become a
 * compiled model, a dataset and a {@link Trainer}. This is what `lora4j train plan.json` and
 * `.lora.kts` scripts do, and what JVM applications call.
 */
public final class PlanRunner {
  private PlanRunner() {}

  /** The engine's training config for a plan, given the number of training rows. */
  public static TrainConfig trainConfig(TrainingPlan t, long trainRows) {
    OptimizerConfig optimizer;
    if (t.getOptimizer() instanceof Optimizer.AdamW a) {
      optimizer =
          OptimizerConfig.adamW(a.getLr(), a.getWeightDecay())
              .withBetas(a.getBeta1(), a.getBeta2())
              .withEps(a.getEps());
    } else {
      Optimizer.Sgd s = (Optimizer.Sgd) t.getOptimizer();
      optimizer =
          new OptimizerConfig(
              OptimizerConfig.Kind.SGD,
              s.getLr(),
              0.9,
              0.999,
              1e-8,
              s.getWeightDecay(),
              s.getMomentum(),
              1);
    }
    if (t.getLoraPlusRatio() != null) {
      optimizer = optimizer.withLoraPlusRatio(t.getLoraPlusRatio());
    }
    long perStep = (long) t.getBatchSize() * t.getGradAccumulation();
    long steps =
        t.getMaxSteps() != null
            ? t.getMaxSteps()
            : (long) Math.ceil(t.getEpochs() * trainRows / (double) perStep);
    Schedule s = t.getSchedule();
    ScheduleConfig.Kind kind =
        s instanceof Schedule.Linear
            ? ScheduleConfig.Kind.LINEAR
            : s instanceof Schedule.Cosine
                ? ScheduleConfig.Kind.COSINE
                : ScheduleConfig.Kind.CONSTANT;
    double minLr =
        s instanceof Schedule.Linear l
            ? l.getMinLrRatio()
            : s instanceof Schedule.Cosine c ? c.getMinLrRatio() : 0;
    ScheduleConfig schedule =
        s.getWarmup() instanceof Warmup.Ratio r
            ? ScheduleConfig.withWarmupRatio(kind, r.getRatio(), minLr)
            : ScheduleConfig.of(kind, ((Warmup.Steps) s.getWarmup()).getSteps(), minLr);
    TrainConfig config =
        TrainConfig.defaults(optimizer, steps, t.getBatchSize())
            .withSchedule(schedule)
            .withGradAccumulation(t.getGradAccumulation())
            .withMaxGradNorm(t.getMaxGradNorm())
            .withSeed(t.getSeed())
            .withEvaluation(
                t.getEvalEvery() == null ? 0 : t.getEvalEvery(),
                t.getEarlyStopping() == null ? 0 : t.getEarlyStopping().getPatience(),
                t.getEarlyStopping() == null ? 0 : t.getEarlyStopping().getMinDelta())
            .withCheckpoints(
                t.getCheckpointEvery() == null ? 0 : t.getCheckpointEvery(),
                t.getKeepCheckpoints() == null ? 3 : t.getKeepCheckpoints());
    return config;
  }

  /** How the data package reads the plan's data. */
  public static DataOptions dataOptions(DataPlan d, long seed) {
    dev.lora4j.dsl.DataFormat f = d.getFormat();
    DataFormat format;
    String text = "text";
    String prompt = "prompt";
    String completion = "completion";
    if (f instanceof dev.lora4j.dsl.DataFormat.JsonlText j) {
      format = DataFormat.JSONL_TEXT;
      text = j.getField();
    } else if (f instanceof dev.lora4j.dsl.DataFormat.PromptCompletion p) {
      format = DataFormat.PROMPT_COMPLETION;
      prompt = p.getPrompt();
      completion = p.getCompletion();
    } else if (f instanceof dev.lora4j.dsl.DataFormat.Tokenized) {
      format = DataFormat.TOKENIZED;
    } else {
      format = DataFormat.TEXT;
    }
    return new DataOptions(
        format,
        text,
        prompt,
        completion,
        d.getSeqLen(),
        d.getValidationSplit(),
        seed,
        d.getMaskPrompt() || format == DataFormat.PROMPT_COMPLETION,
        null);
  }

  /**
   * Trains a plan end to end: checkpoints and the final adapter (PEFT) go under out.
   *
   * @param resume continue the run in out from its newest checkpoint
   */
  public static TrainingReport run(
      LoraPlan plan, Path out, boolean resume, List<TrainingListener> listeners) {
    plan.validated();
    if (plan.getData() == null) {
      throw new IllegalArgumentException(
          "the plan has no data block; add data { train(\"file\") } to train it");
    }
    Path base = Path.of(plan.getBase());
    try (Checkpoint checkpoint = Checkpoint.open(base)) {
      Tokenizer tokenizer = Tokenizer.forCheckpointIfPresent(base);
      TrainingPlan t = plan.getTraining();
      DataPlan d = plan.getData();
      // What the base cannot take is refused before the data is read.
      checkpoint.config().requireSeqLenFits(d.getSeqLen());
      List<LoraModuleSpec> specs =
          LoraTargets.fromPlan(plan, checkpoint.architecture().projections());
      ModelCompiler.validate(checkpoint.architecture(), specs);
      SequenceDataset dataset =
          SequenceDataset.load(
              List.of(Path.of(d.getTrain())),
              dataOptions(d, t.getSeed()),
              tokenizer,
              checkpoint.config().vocabSize());
      List<Sequence> validation = new ArrayList<>(dataset.validation());
      if (d.getValidation() != null) {
        validation =
            SequenceDataset.load(
                    List.of(Path.of(d.getValidation())),
                    dataOptions(d, t.getSeed()).withValidation(0, t.getSeed()),
                    tokenizer,
                    checkpoint.config().vocabSize())
                .train();
      }
      CompileOptions options =
          CompileOptions.defaults()
              .withSeed(t.getSeed())
              .withPrecision(
                  t.getPrecision() == dev.lora4j.dsl.Precision.BF16
                      ? CompileOptions.Precision.BF16
                      : CompileOptions.Precision.F32);
      try (CompiledModel model = ModelCompiler.compile(checkpoint, specs, options)) {
        Trainer trainer =
            new Trainer(model, trainConfig(t, dataset.train().size()), plan.getBase(), listeners);
        return trainer.fit(
            new BatchIterator(dataset.train(), t.getBatchSize(), t.getSeed(), true, false),
            validation,
            out,
            resume ? out : null);
      }
    }
  }
}
