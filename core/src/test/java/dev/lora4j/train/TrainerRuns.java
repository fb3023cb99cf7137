package dev.lora4j.train;

import dev.lora4j.Conformance;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.data.BatchIterator;
import dev.lora4j.data.Sequence;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/** Small, fully specified LoRA runs on llama-tiny for the trainer tests (also run as a child). */
public final class TrainerRuns {
  private TrainerRuns() {}

  public static List<Sequence> rows(int count, int seqLen, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    List<Sequence> rows = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      int[] ids = new int[seqLen];
      // A learnable pattern: mostly an arithmetic sequence, sometimes noise.
      int start = random.nextInt(101);
      for (int t = 0; t < seqLen; t++) {
        ids[t] = random.nextInt(10) == 0 ? random.nextInt(101) : (start + 3 * t) % 101;
      }
      float[] mask = new float[seqLen - 1];
      Arrays.fill(mask, 1f);
      rows.add(new Sequence(ids, mask));
    }
    return rows;
  }

  public static List<LoraModuleSpec> specs() {
    List<LoraModuleSpec> specs = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      for (String p : List.of("self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj")) {
        specs.add(
            new LoraModuleSpec(
                "model.layers." + i + "." + p,
                4,
                8,
                2,
                0.1,
                dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM,
                List.of()));
      }
    }
    return specs;
  }

  static TrainConfig config(int steps) {
    return TrainConfig.defaults(OptimizerConfig.adamW(3e-3, 0.01), steps, 4)
        .withSchedule(ScheduleConfig.of(ScheduleConfig.Kind.COSINE, 2, 0.1))
        .withGradAccumulation(2)
        .withMaxGradNorm(1.0)
        .withSeed(11)
        .withEvaluation(2, 0, 0)
        .withCheckpoints(2, 2);
  }

  /** Trains; listeners may throw to simulate a crash. */
  static TrainingReport run(
      int steps, Path out, Path resumeFrom, List<TrainingListener> listeners) {
    List<Sequence> train = rows(24, 16, 1);
    List<Sequence> validation = rows(4, 16, 2);
    try (Checkpoint checkpoint = Checkpoint.open(Conformance.dir("llama-tiny"));
        CompiledModel model =
            ModelCompiler.compile(checkpoint, specs(), CompileOptions.defaults().withSeed(5))) {
      Trainer trainer = new Trainer(model, config(steps), "llama-tiny", listeners);
      return trainer.fit(new BatchIterator(train, 4, 11, true, false), validation, out, resumeFrom);
    }
  }

  /** A child process for the kill test: trains with slow checkpoint writes, printing progress. */
  public static void main(String[] args) {
    Path out = Path.of(args[0]);
    Path resume = args.length > 1 ? Path.of(args[1]) : null;
    run(
        20,
        out,
        resume,
        List.of(
            e -> {
              if (e instanceof TrainingEvent.CheckpointSaved c) {
                System.out.println("saved " + c.step());
                System.out.flush();
              }
            }));
    System.out.println("done");
  }
}
