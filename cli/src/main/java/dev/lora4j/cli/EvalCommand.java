package dev.lora4j.cli;

import dev.lora4j.compile.CompiledModel;
import dev.lora4j.data.DataOptions;
import dev.lora4j.data.Sequence;
import dev.lora4j.data.SequenceDataset;
import dev.lora4j.data.Tokenizer;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.train.Evaluator;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** `lora4j eval`: loss and perplexity of a model (optionally with an adapter) on a dataset. */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    description =
        "Mean next-token loss and perplexity of a model, with or without an adapter, on every row of a dataset.")
final class EvalCommand implements Callable<Integer> {
  @Mixin ModelOptions modelOptions;

  @Option(
      names = "--data",
      required = true,
      paramLabel = "FILE",
      description = "Dataset file(s), as for train.")
  List<Path> data;

  @Option(names = "--seq-len", defaultValue = "128", description = "Default: ${DEFAULT-VALUE}.")
  int seqLen;

  @Option(names = "--batch-size", defaultValue = "8", description = "Default: ${DEFAULT-VALUE}.")
  int batchSize;

  @Mixin DataFileOptions dataFiles;

  @Override
  public Integer call() {
    modelOptions.compileOptions(); // flag mistakes first, before the data is read
    try (Checkpoint checkpoint = Checkpoint.open(modelOptions.model)) {
      checkpoint.config().requireSeqLenFits(seqLen);
      Tokenizer tokenizer = Tokenizer.forCheckpointIfPresent(modelOptions.model);
      DataOptions options = dataFiles.dataOptions(seqLen, 0, 0);
      SequenceDataset dataset =
          SequenceDataset.load(data, options, tokenizer, checkpoint.config().vocabSize());
      List<Sequence> rows = new ArrayList<>(dataset.train());
      rows.addAll(dataset.validation());
      try (CompiledModel model = modelOptions.compile(checkpoint)) {
        double loss = new Evaluator(model).meanLoss(rows, batchSize);
        System.out.printf(
            Locale.ROOT,
            "loss %.4f perplexity %.3f over %d rows%n",
            loss,
            Math.exp(loss),
            rows.size());
      }
    }
    return 0;
  }
}
