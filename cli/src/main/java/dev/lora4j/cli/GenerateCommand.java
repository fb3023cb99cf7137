package dev.lora4j.cli;

import dev.lora4j.compile.CompiledModel;
import dev.lora4j.data.Tokenizer;
import dev.lora4j.generate.Generator;
import dev.lora4j.generate.SamplingOptions;
import dev.lora4j.model.Checkpoint;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** `lora4j generate`: continues a prompt with a model, with or without an adapter. */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description =
        "Continues a prompt: greedy (--temperature 0) or sampled with temperature, top-k and top-p.")
final class GenerateCommand implements Callable<Integer> {
  @Mixin ModelOptions modelOptions;

  @Option(names = "--prompt", required = true, description = "Text to continue.")
  String prompt;

  @Option(names = "--max-tokens", defaultValue = "64", description = "Default: ${DEFAULT-VALUE}.")
  int maxTokens;

  @Option(
      names = "--temperature",
      defaultValue = "0.8",
      description = "0 = greedy. Default: ${DEFAULT-VALUE}.")
  double temperature;

  @Option(
      names = "--top-k",
      defaultValue = "40",
      description = "0 = off. Default: ${DEFAULT-VALUE}.")
  int topK;

  @Option(
      names = "--top-p",
      defaultValue = "0.95",
      description = "1 = off. Default: ${DEFAULT-VALUE}.")
  double topP;

  @Option(names = "--seed", defaultValue = "0", description = "Default: ${DEFAULT-VALUE}.")
  long seed;

  @Override
  public Integer call() {
    SamplingOptions options = new SamplingOptions(maxTokens, temperature, topK, topP, seed);
    options.validate();
    try (Checkpoint checkpoint = Checkpoint.open(modelOptions.model);
        CompiledModel model = modelOptions.compile(checkpoint)) {
      Tokenizer tokenizer = Tokenizer.forCheckpoint(modelOptions.model);
      int[] ids =
          Generator.generate(model, tokenizer.encode(prompt), options, tokenizer.eosTokenId());
      System.out.println(tokenizer.decode(ids));
    }
    return 0;
  }
}
