package dev.lora4j.cli;

import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.data.BatchIterator;
import dev.lora4j.data.BpeTrainer;
import dev.lora4j.data.DataOptions;
import dev.lora4j.data.SequenceDataset;
import dev.lora4j.data.Tokenizer;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.model.Gpt2Config;
import dev.lora4j.model.LlamaConfig;
import dev.lora4j.model.ModelConfig;
import dev.lora4j.model.RandomCheckpoint;
import dev.lora4j.train.OptimizerConfig;
import dev.lora4j.train.ScheduleConfig;
import dev.lora4j.train.TrainConfig;
import dev.lora4j.train.Trainer;
import dev.lora4j.train.TrainingListener;
import dev.lora4j.train.TrainingReport;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * Trains a fresh model from random weights (every weight trainable) and writes it as a Hugging Face
 * checkpoint directory with tokenizer files. Everything is written into a temporary directory next
 * to the target and renamed into place at the end, so an interrupted run never leaves half a model.
 */
final class Pretraining {
  private Pretraining() {}

  /** The model's shape; vocab comes from the tokenizer. */
  record Shape(
      String modelType,
      int layers,
      int hidden,
      int heads,
      int kvHeads,
      int intermediate,
      int positions) {
    ModelConfig config(int vocab) {
      if (modelType.equals("gpt2")) {
        return new Gpt2Config(
            vocab,
            positions,
            hidden,
            layers,
            heads,
            intermediate,
            1e-5,
            "gelu_new",
            true,
            "float32");
      }
      return new LlamaConfig(
          modelType,
          vocab,
          hidden,
          intermediate,
          layers,
          heads,
          kvHeads,
          hidden / heads,
          positions,
          1e-6,
          10000.0,
          true,
          modelType.equals("qwen2"),
          false,
          false,
          "float32");
    }
  }

  /**
   * @param tokenizerFrom copy this checkpoint's tokenizer; null trains a byte-level BPE of
   *     vocabSize on the data
   */
  static TrainingReport run(
      List<Path> data,
      Shape shape,
      Path tokenizerFrom,
      int vocabSize,
      DataOptions dataOptions,
      long steps,
      int batchSize,
      double lr,
      long seed,
      Path target,
      List<TrainingListener> listeners)
      throws IOException {
    Path parent = target.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    String prefix = "." + target.getFileName() + "-";
    // An interrupted earlier run (Ctrl-C, kill) may have left its temporary directory behind.
    try (java.util.stream.Stream<Path> siblings = Files.list(parent)) {
      for (Path stale :
          siblings.filter(p -> p.getFileName().toString().startsWith(prefix)).toList()) {
        dev.lora4j.io.AtomicFiles.deleteTree(stale);
      }
    }
    Path tmp = Files.createTempDirectory(parent, prefix);
    try {
      Tokenizer tokenizer;
      if (tokenizerFrom != null) {
        tokenizer = Tokenizer.forCheckpoint(tokenizerFrom);
        tokenizer.save(tmp);
      } else {
        List<String> texts = new ArrayList<>();
        for (Path file : data) {
          texts.add(read(file));
        }
        tokenizer = BpeTrainer.train(texts, vocabSize, dataOptions.seqLen(), tmp);
      }
      ModelConfig config = shape.config(tokenizer.vocabSize());
      if (dataOptions.seqLen() > config.maxPositions()) {
        throw new IllegalArgumentException(
            "--seq-len "
                + dataOptions.seqLen()
                + " is longer than --positions "
                + config.maxPositions());
      }
      RandomCheckpoint.write(tmp, config, seed);
      SequenceDataset dataset =
          SequenceDataset.load(data, dataOptions, tokenizer, config.vocabSize());
      TrainingReport report;
      try (Checkpoint checkpoint = Checkpoint.open(tmp);
          CompiledModel model =
              ModelCompiler.compile(
                  checkpoint,
                  List.of(),
                  CompileOptions.defaults().withSeed(seed).withTrainableBase(true))) {
        TrainConfig train =
            TrainConfig.defaults(OptimizerConfig.adamW(lr, 0.01), steps, batchSize)
                .withSchedule(
                    ScheduleConfig.of(ScheduleConfig.Kind.COSINE, Math.min(100, steps / 10), 0.1))
                .withMaxGradNorm(1.0)
                .withSeed(seed)
                .withFullFineTune(true);
        report =
            new Trainer(model, train, target.getFileName().toString(), listeners)
                .fit(
                    new BatchIterator(dataset.train(), batchSize, seed, true, true),
                    dataset.validation(),
                    null,
                    null);
        model.exportCheckpoint(tmp);
      }
      if (Files.exists(target)) {
        dev.lora4j.io.AtomicFiles.deleteTree(target);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      return report;
    } catch (IOException | RuntimeException e) {
      dev.lora4j.io.AtomicFiles.deleteTree(tmp);
      throw e;
    }
  }

  static String read(Path file) throws IOException {
    try (InputStream raw = Files.newInputStream(file);
        InputStream in = file.toString().endsWith(".gz") ? new GZIPInputStream(raw) : raw) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
