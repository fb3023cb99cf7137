package dev.lora4j.data;

import dev.lora4j.io.CheckpointException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import kotlinx.serialization.json.JsonObject;

/**
 * Training rows made from data files, every row exactly {@code seqLen} ids long, split into train
 * and validation.
 *
 * <ul>
 *   <li>TEXT and JSONL_TEXT documents become {@code [BOS] tokens EOS}, with BOS only where the
 *       tokenizer has one that differs from EOS (Llama yes, GPT-2 and Qwen2 no). All documents of
 *       all files form one stream, cut into rows that overlap by one token, so every token after
 *       the first is a label exactly once; the tail too short for a row is dropped.
 *   <li>PROMPT_COMPLETION examples are one row each, {@code [BOS] prompt completion EOS}, cut to
 *       seqLen and right-padded with EOS (0 without one); padding is never scored, the prompt is
 *       not scored when {@link DataOptions#maskPrompt()}. The prompt boundary is where the ids of
 *       the prompt alone stop matching those of prompt + completion, so a token that spans the
 *       boundary counts as completion.
 *   <li>TOKENIZED lists exactly seqLen long are rows as they are; others join the packed stream as
 *       they are, with no separators added.
 * </ul>
 *
 * Rows keep file order within train and within validation.
 */
public final class SequenceDataset {
  private static final Pattern BLANK_LINES = Pattern.compile("\\n(?:[ \\t]*\\n)+");

  private final List<Sequence> train;
  private final List<Sequence> validation;

  private SequenceDataset(List<Sequence> train, List<Sequence> validation) {
    this.train = List.copyOf(train);
    this.validation = List.copyOf(validation);
  }

  /**
   * @param tokenizer may be null when every file is TOKENIZED
   * @param vocabSize the model's vocabulary size; every id must be below it
   */
  public static SequenceDataset load(
      List<Path> files, DataOptions options, Tokenizer tokenizer, int vocabSize) {
    if (files.isEmpty()) {
      throw new IllegalArgumentException("no data files given; pass at least one data file");
    }
    if (vocabSize <= 0) {
      throw new IllegalArgumentException("vocab size must be positive, was " + vocabSize);
    }
    Rows rows = new Rows(options, tokenizer, vocabSize);
    for (Path file : files) {
      DataFormat format =
          options.format() != null ? options.format() : DataFormat.detect(file, options);
      rows.read(file, format);
    }
    List<Sequence> all = rows.finish(files);
    return split(all, options.validationFraction(), options.seed());
  }

  public List<Sequence> train() {
    return train;
  }

  public List<Sequence> validation() {
    return validation;
  }

  /** Ids in the train rows (rows x seqLen). */
  public long trainTokens() {
    return train.stream().mapToLong(Sequence::length).sum();
  }

  @Override
  public String toString() {
    return "SequenceDataset("
        + train.size()
        + " train rows, "
        + validation.size()
        + " validation rows, "
        + trainTokens()
        + " train tokens)";
  }

  /**
   * Holds out a seeded random {@code fraction} of the rows: at least one when the fraction is
   * positive and there are two rows or more, never all of them.
   */
  private static SequenceDataset split(List<Sequence> rows, double fraction, long seed) {
    int n = rows.size();
    int held =
        fraction > 0 && n >= 2 ? (int) Math.min(n - 1, Math.max(1, Math.round(n * fraction))) : 0;
    int[] order = BatchIterator.permutation(n, seed);
    boolean[] isValidation = new boolean[n];
    for (int i = 0; i < held; i++) {
      isValidation[order[i]] = true;
    }
    List<Sequence> train = new ArrayList<>(n - held);
    List<Sequence> validation = new ArrayList<>(held);
    for (int i = 0; i < n; i++) {
      (isValidation[i] ? validation : train).add(rows.get(i));
    }
    return new SequenceDataset(train, validation);
  }

  /** Turns files into rows in file order, packing documents into one stream. */
  private static final class Rows {
    private final DataOptions options;
    private final Tokenizer tokenizer;
    private final int vocabSize;
    private final int seqLen;
    private final List<Sequence> rows = new ArrayList<>();
    private final Map<Path, Long> tokensByFile = new LinkedHashMap<>();
    private final float[] allScored; // shared by the rows scored everywhere
    private IntList stream = new IntList(1 << 12);

    Rows(DataOptions options, Tokenizer tokenizer, int vocabSize) {
      this.options = options;
      this.tokenizer = tokenizer;
      this.vocabSize = vocabSize;
      this.seqLen = options.seqLen();
      this.allScored = new float[seqLen - 1];
      Arrays.fill(allScored, 1f);
    }

    void read(Path file, DataFormat format) {
      tokensByFile.putIfAbsent(file, 0L);
      switch (format) {
        case TEXT -> {
          requireTokenizer(file, format);
          for (String document : documents(DataFiles.readText(file))) {
            pack(withSeparators(tokenizer.encode(document)), file, 0);
          }
        }
        case JSONL_TEXT -> {
          requireTokenizer(file, format);
          forEachObject(
              file,
              (line, object) -> {
                String text =
                    JsonLines.string(object, options.textField(), file, line, "--text-field");
                pack(withSeparators(tokenizer.encode(text)), file, line);
              });
        }
        case PROMPT_COMPLETION -> {
          requireTokenizer(file, format);
          forEachObject(
              file,
              (line, object) ->
                  example(
                      JsonLines.string(object, options.promptField(), file, line, "--prompt-field"),
                      JsonLines.string(
                          object, options.completionField(), file, line, "--completion-field"),
                      file,
                      line));
        }
        case TOKENIZED ->
            forEachObject(
                file,
                (line, object) -> {
                  int[] ids = JsonLines.tokenIds(object, "input_ids", file, line, vocabSize);
                  if (ids.length == seqLen) {
                    count(file, ids.length);
                    rows.add(new Sequence(ids, allScored));
                  } else {
                    pack(ids, file, line);
                  }
                });
      }
    }

    /** Splits a TEXT file into documents by the separator; see {@link DataOptions}. */
    private List<String> documents(String text) {
      String separator = options.documentSeparator();
      if (separator == null) {
        return text.isEmpty() ? List.of() : List.of(text);
      }
      List<String> parts = new ArrayList<>();
      if (separator.indexOf('\n') < 0 && separator.indexOf('\r') < 0) {
        StringBuilder document = new StringBuilder();
        for (String line : text.split("\\R", -1)) {
          if (line.strip().equals(separator.strip())) {
            parts.add(document.toString());
            document.setLength(0);
          } else {
            document.append(line).append('\n');
          }
        }
        parts.add(document.toString());
      } else {
        String unixText = text.replace("\r\n", "\n");
        String unixSeparator = separator.replace("\r\n", "\n");
        Pattern split =
            unixSeparator.isBlank() ? BLANK_LINES : Pattern.compile(Pattern.quote(unixSeparator));
        parts.addAll(List.of(split.split(unixText)));
      }
      return parts.stream().map(String::strip).filter(d -> !d.isEmpty()).toList();
    }

    private int[] withSeparators(int[] tokens) {
      OptionalInt bos = leadingBos();
      OptionalInt eos = tokenizer.eosTokenId();
      IntList ids = new IntList(tokens.length + 2);
      bos.ifPresent(ids::add);
      ids.addAll(tokens);
      eos.ifPresent(ids::add);
      return ids.toArray();
    }

    /** BOS is added only when it differs from EOS: GPT-2's BOS is its EOS, a separator already. */
    private OptionalInt leadingBos() {
      OptionalInt bos = tokenizer.bosTokenId();
      return bos.isPresent() && !bos.equals(tokenizer.eosTokenId()) ? bos : OptionalInt.empty();
    }

    private void example(String prompt, String completion, Path file, int line) {
      int[] promptIds = tokenizer.encode(prompt);
      int[] fullIds = tokenizer.encode(prompt + completion);
      int shared = 0;
      while (shared < promptIds.length
          && shared < fullIds.length
          && promptIds[shared] == fullIds[shared]) {
        shared++;
      }
      OptionalInt bos = leadingBos();
      int boundary = (bos.isPresent() ? 1 : 0) + shared;
      int[] ids = withSeparators(fullIds);
      if (boundary >= seqLen) {
        throw new CheckpointException(
            file
                + ":"
                + line
                + ": the prompt alone is "
                + boundary
                + " tokens"
                + (bos.isPresent() ? " (with BOS)" : "")
                + ", which fills seq_len "
                + seqLen
                + ", so no completion token would be trained on; raise --seq-len above "
                + boundary
                + " or shorten the prompt");
      }
      int real = Math.min(ids.length, seqLen);
      int[] row = new int[seqLen];
      System.arraycopy(ids, 0, row, 0, real);
      Arrays.fill(row, real, seqLen, tokenizer.eosTokenId().orElse(0));
      float[] mask = new float[seqLen - 1];
      int firstLabel = options.maskPrompt() ? Math.max(1, boundary) : 1;
      for (int label = firstLabel; label < real; label++) {
        mask[label - 1] = 1f;
      }
      if (real - firstLabel <= 0) {
        throw new CheckpointException(
            file
                + ":"
                + line
                + ": the example has nothing to train on (empty completion and no EOS token);"
                + " give it a completion");
      }
      checkVocabulary(row, file, line);
      count(file, real);
      rows.add(new Sequence(row, mask));
    }

    /** Appends ids to the stream and cuts every complete row off its front. */
    private void pack(int[] ids, Path file, int line) {
      checkVocabulary(ids, file, line);
      count(file, ids.length);
      stream.addAll(ids);
      int start = 0;
      while (stream.size() - start >= seqLen) {
        rows.add(new Sequence(stream.copyOfRange(start, start + seqLen), allScored));
        start += seqLen - 1; // the next row starts with this row's last token
      }
      if (start > 0) {
        IntList rest = new IntList(Math.max(seqLen, stream.size() - start));
        rest.addAll(stream.copyOfRange(start, stream.size()));
        stream = rest;
      }
    }

    private void checkVocabulary(int[] ids, Path file, int line) {
      for (int id : ids) {
        if (id < 0 || id >= vocabSize) {
          throw new CheckpointException(
              file
                  + (line > 0 ? ":" + line : "")
                  + ": the tokenizer made id "
                  + id
                  + ", outside the model's vocabulary [0, "
                  + vocabSize
                  + "); use the tokenizer that belongs to the model");
        }
      }
    }

    private void count(Path file, int tokens) {
      tokensByFile.merge(file, (long) tokens, Long::sum);
    }

    private void requireTokenizer(Path file, DataFormat format) {
      if (tokenizer == null) {
        throw new IllegalArgumentException(
            file + ": " + format + " data needs a tokenizer; pass one, or pre-tokenize the data");
      }
    }

    private interface ObjectAction {
      void accept(int lineNumber, JsonObject object);
    }

    private static void forEachObject(Path file, ObjectAction action) {
      DataFiles.forEachLine(
          file,
          (lineNumber, line) -> {
            if (!line.isBlank()) {
              action.accept(lineNumber, JsonLines.object(line, file, lineNumber));
            }
          });
    }

    /** The rows; throws when the files did not fill even one. */
    List<Sequence> finish(List<Path> files) {
      if (!rows.isEmpty()) {
        return rows;
      }
      long tokens = tokensByFile.values().stream().mapToLong(Long::longValue).sum();
      String names = files.stream().map(Path::toString).collect(Collectors.joining(", "));
      if (tokens == 0) {
        throw new CheckpointException(
            names
                + (files.size() == 1 ? " holds" : " hold")
                + " no data (no documents, examples or token ids); check the file"
                + (files.size() == 1 ? "" : "s")
                + " and the data format");
      }
      throw new CheckpointException(
          names
              + (files.size() == 1 ? " has " : " have ")
              + tokens
              + " tokens"
              + (files.size() == 1 ? "" : " together")
              + "; seq_len "
              + seqLen
              + " needs at least "
              + seqLen
              + " for one row; lower --seq-len or add data");
    }
  }
}
