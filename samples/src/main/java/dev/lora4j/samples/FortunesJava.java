package dev.lora4j.samples;

import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.data.Tokenizer;
import dev.lora4j.dsl.AdapterDefaults;
import dev.lora4j.dsl.DataPlan;
import dev.lora4j.dsl.LoraInit;
import dev.lora4j.dsl.LoraPlan;
import dev.lora4j.dsl.Optimizer;
import dev.lora4j.dsl.Schedule;
import dev.lora4j.dsl.TrainingPlan;
import dev.lora4j.dsl.Warmup;
import dev.lora4j.generate.Generator;
import dev.lora4j.generate.SamplingOptions;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.train.PlanRunner;
import dev.lora4j.train.TrainingReport;
import java.nio.file.Path;
import java.util.List;

/**
 * The same fine-tuning from Java: a plan built with the Java builder, trained, saved, used.
 *
 * <p>Run after {@code ./lora4j quickstart}: {@code java -cp
 * "samples/target/classes:cli/target/lib/*" dev.lora4j.samples.FortunesJava}
 */
public final class FortunesJava {
  public static void main(String[] args) {
    String base = args.length > 0 ? args[0] : "runs/quickstart/base";
    int steps = args.length > 1 ? Integer.parseInt(args[1]) : 200;
    Path out = Path.of(args.length > 2 ? args[2] : "runs/fortunes-java");
    String data = args.length > 3 ? args[3] : "samples/data/fortunes.txt.gz";

    // 1. The plan.
    LoraPlan plan =
        LoraPlan.builder(base)
            .defaults(new AdapterDefaults(4, 8.0, 0.0, LoraInit.KAIMING_UNIFORM, false))
            .target("c_attn[q,v]")
            .target("mlp.c_fc")
            .training(
                TrainingPlan.builder()
                    .optimizer(Optimizer.adamW(1e-2))
                    .schedule(Schedule.cosine(Warmup.ratio(0.1), 0.1))
                    .batchSize(16)
                    .maxSteps(steps)
                    .build())
            .data(DataPlan.builder(data).seqLen(64).validationSplit(0.1).build())
            .build();

    // 2. Train; the adapter is written in PEFT's format to out/adapter.
    TrainingReport report = PlanRunner.run(plan, out, false, List.of());
    System.out.printf(
        "trained %d steps, validation loss %.4f%n", report.steps(), report.finalValidationLoss());

    // 3. Generate with the adapter.
    PeftAdapter adapter = PeftAdapter.load(out.resolve("adapter"));
    try (Checkpoint checkpoint = Checkpoint.open(Path.of(base));
        CompiledModel model =
            ModelCompiler.compile(
                checkpoint,
                adapter.specsFor(checkpoint.architecture()),
                CompileOptions.defaults())) {
      adapter.applyTo(model);
      Tokenizer tokenizer = Tokenizer.forCheckpoint(Path.of(base));
      int[] ids =
          Generator.generate(
              model,
              tokenizer.encode("A wise man"),
              new SamplingOptions(30, 0.8, 40, 0.95, 1),
              tokenizer.eosTokenId());
      System.out.println(tokenizer.decode(ids));
    }
  }
}
