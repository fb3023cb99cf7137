package dev.lora4j.cli;

import dev.lora4j.adapter.Merger;
import dev.lora4j.data.DataFormat;
import dev.lora4j.data.DataOptions;
import dev.lora4j.train.TrainingReport;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `lora4j pretrain`: a fresh GPT-2 or Llama-layout model trained from scratch on text. */
@Command(
    name = "pretrain",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Trains a new model from random weights (all weights trainable) on text and writes a Hugging"
          + " Face checkpoint directory (config.json, model.safetensors, tokenizer files): how the"
          + " quickstart makes its base. The tokenizer is a byte-level BPE trained on the data, or"
          + " copied from --tokenizer-from."
    })
final class PretrainCommand implements Callable<Integer> {
  @Option(
      names = "--data",
      required = true,
      paramLabel = "FILE",
      description = "Text files (.txt, .txt.gz); repeatable.")
  List<Path> data;

  @Option(
      names = "--out",
      required = true,
      paramLabel = "DIR",
      description = "The new checkpoint directory.")
  Path out;

  @Option(
      names = "--model-type",
      defaultValue = "gpt2",
      description = "gpt2, llama or qwen2. Default: ${DEFAULT-VALUE}.")
  String modelType;

  @Option(names = "--layers", defaultValue = "4", description = "Default: ${DEFAULT-VALUE}.")
  int layers;

  @Option(names = "--hidden", defaultValue = "192", description = "Default: ${DEFAULT-VALUE}.")
  int hidden;

  @Option(names = "--heads", defaultValue = "6", description = "Default: ${DEFAULT-VALUE}.")
  int heads;

  @Option(names = "--kv-heads", description = "Llama: key/value heads (default: --heads).")
  Integer kvHeads;

  @Option(names = "--intermediate", description = "MLP width (default: 4 x hidden).")
  Integer intermediate;

  @Option(
      names = "--positions",
      defaultValue = "128",
      description = "Longest sequence. Default: ${DEFAULT-VALUE}.")
  int positions;

  @Option(
      names = "--vocab-size",
      defaultValue = "2048",
      description = "BPE vocabulary to train. Default: ${DEFAULT-VALUE}.")
  int vocabSize;

  @Option(
      names = "--tokenizer-from",
      paramLabel = "DIR",
      description = "Use this checkpoint's tokenizer instead of training one.")
  Path tokenizerFrom;

  @Option(names = "--document-separator", description = "A line between documents (e.g. %%).")
  String documentSeparator;

  @Option(names = "--seq-len", defaultValue = "128", description = "Default: ${DEFAULT-VALUE}.")
  int seqLen;

  @Option(names = "--batch-size", defaultValue = "16", description = "Default: ${DEFAULT-VALUE}.")
  int batchSize;

  @Option(names = "--steps", defaultValue = "500", description = "Default: ${DEFAULT-VALUE}.")
  long steps;

  @Option(
      names = "--lr",
      defaultValue = "2e-3",
      description = "Peak learning rate (cosine). Default: ${DEFAULT-VALUE}.")
  double lr;

  @Option(names = "--seed", defaultValue = "1", description = "Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--force", description = "Replace a non-empty --out directory.")
  boolean force;

  @Override
  public Integer call() throws Exception {
    if (!List.of("gpt2", "llama", "qwen2", "mistral").contains(modelType)) {
      throw new IllegalArgumentException(
          "--model-type must be gpt2, llama, mistral or qwen2, was '" + modelType + "'");
    }
    requirePositive("--layers", layers);
    requirePositive("--hidden", hidden);
    requirePositive("--heads", heads);
    if (kvHeads != null) {
      requirePositive("--kv-heads", kvHeads);
    }
    if (intermediate != null) {
      requirePositive("--intermediate", intermediate);
    }
    requirePositive("--positions", positions);
    requirePositive("--batch-size", batchSize);
    if (kvHeads != null && heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          "--heads (" + heads + ") must be a multiple of --kv-heads (" + kvHeads + ")");
    }
    if (hidden % heads != 0) {
      throw new IllegalArgumentException(
          "--hidden (" + hidden + ") must be divisible by --heads (" + heads + ")");
    }
    for (Path file : data) {
      TrainCommand.requireFile(file);
    }
    Merger.prepareOutput(out, force);
    Pretraining.Shape shape =
        new Pretraining.Shape(
            modelType,
            layers,
            hidden,
            heads,
            kvHeads == null ? heads : kvHeads,
            intermediate == null ? 4 * hidden : intermediate,
            positions);
    DataOptions options =
        new DataOptions(
            DataFormat.TEXT,
            "text",
            "prompt",
            "completion",
            seqLen,
            0.02,
            seed,
            true,
            documentSeparator);
    TrainingReport report;
    try (ConsoleProgress progress = new ConsoleProgress("pretrain " + out.getFileName())) {
      report =
          Pretraining.run(
              data,
              shape,
              tokenizerFrom,
              vocabSize,
              options,
              steps,
              batchSize,
              lr,
              seed,
              out,
              List.of(progress));
    }
    System.out.printf(
        Locale.ROOT,
        "pretrained %d steps: validation perplexity %.2f; checkpoint in %s%n",
        report.steps(),
        Math.exp(report.finalValidationLoss()),
        out);
    return 0;
  }

  private static void requirePositive(String flag, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(flag + " must be at least 1, was " + value);
    }
  }
}
