package dev.lora4j.cli;

import dev.lora4j.bench.BenchConfig;
import dev.lora4j.bench.QuantBench;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `lora4j bench-quant`: frozen-weight bytes, training memory and perplexity per base storage. */
@Command(
    name = "bench-quant",
    mixinStandardHelpOptions = true,
    description = {
      "Compares storages of the frozen base (f32, bf16, int8, nf4, nf4 + double quant), each in"
          + " its own JVM: bytes of the frozen weights and peak RSS during LoRA training on a"
          + " GPT-2-small-shaped random model (bench config B), and, when the quickstart base"
          + " exists, validation perplexity on fortunes of that base and of a LoRA-adapted model"
          + " trained over each storage."
    })
final class BenchQuantCommand implements Callable<Integer> {
  @Option(
      names = "--config",
      defaultValue = "B",
      description = "Model shape for the memory rows: A, B or S. Default: ${DEFAULT-VALUE}.")
  BenchConfig config;

  @Option(
      names = "--storages",
      defaultValue = "f32,bf16,int8,nf4,nf4-dq",
      split = ",",
      description = "Default: ${DEFAULT-VALUE}.")
  List<String> storages;

  @Option(
      names = "--steps",
      defaultValue = "5",
      description = "Measured LoRA steps per storage (after 2 warm-up). Default: ${DEFAULT-VALUE}.")
  int steps;

  @Option(
      names = "--quickstart",
      defaultValue = "runs/quickstart",
      description =
          "Quickstart run directory (its base/ is used if present). Default: ${DEFAULT-VALUE}.")
  Path quickstart;

  @Option(
      names = "--data",
      defaultValue = "samples/data",
      description = "Where fortunes.txt.gz is. Default: ${DEFAULT-VALUE}.")
  Path data;

  @Option(
      names = "--quickstart-steps",
      defaultValue = "200",
      description =
          "LoRA steps on fortunes per storage (0: perplexity of the base only)."
              + " Default: ${DEFAULT-VALUE}.")
  long quickstartSteps;

  @Option(
      names = "--cache",
      defaultValue = "runs/bench-cache",
      description = "Where random checkpoints are kept. Default: ${DEFAULT-VALUE}.")
  Path cache;

  @Override
  public Integer call() throws Exception {
    for (String s : storages) {
      QuantBench.storage(s);
    }
    QuantBench.run(
        config,
        storages,
        steps,
        cache,
        quickstart.resolve("base"),
        data,
        quickstartSteps,
        System.out);
    return 0;
  }
}
