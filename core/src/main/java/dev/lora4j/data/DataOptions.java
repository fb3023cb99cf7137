package dev.lora4j.data;

import java.util.Objects;
import java.util.function.Consumer;

/**
 * How {@link SequenceDataset#load} turns files into rows.
 *
 * @param format null detects each file's format with {@link DataFormat#detect}
 * @param seqLen tokens per row; every row has exactly this many ids
 * @param validationFraction the share of rows held out for validation, in [0, 1)
 * @param seed picks the validation rows
 * @param maskPrompt for PROMPT_COMPLETION: score only the completion (and its EOS)
 * @param documentSeparator for TEXT: null keeps each file one document; a string without line
 *     breaks (such as "%" in fortune files) is a line of its own between documents; "\n\n" splits
 *     at blank lines; any other string is split at literally
 */
public record DataOptions(
    DataFormat format,
    String textField,
    String promptField,
    String completionField,
    int seqLen,
    double validationFraction,
    long seed,
    boolean maskPrompt,
    String documentSeparator) {

  public DataOptions {
    Objects.requireNonNull(textField, "textField");
    Objects.requireNonNull(promptField, "promptField");
    Objects.requireNonNull(completionField, "completionField");
    if (seqLen < 2) {
      throw new IllegalArgumentException(
          "seq_len must be at least 2 (one input and one label), was " + seqLen);
    }
    if (!(validationFraction >= 0 && validationFraction < 1)) {
      throw new IllegalArgumentException(
          "validation fraction must be in [0, 1), was " + validationFraction);
    }
    if (documentSeparator != null && documentSeparator.isEmpty()) {
      throw new IllegalArgumentException(
          "document separator must be null (one document per file) or non-empty, was \"\"");
    }
  }

  /** Detected formats, the usual field names, 10% validation, seed 0, prompts masked. */
  public static DataOptions defaults(int seqLen) {
    return new DataOptions(null, "text", "prompt", "completion", seqLen, 0.1, 0, true, null);
  }

  public DataOptions withFormat(DataFormat format) {
    return with(d -> d.format = format);
  }

  public DataOptions withSeqLen(int seqLen) {
    return with(d -> d.seqLen = seqLen);
  }

  public DataOptions withValidation(double validationFraction, long seed) {
    return with(
        d -> {
          d.validationFraction = validationFraction;
          d.seed = seed;
        });
  }

  public DataOptions withMaskPrompt(boolean maskPrompt) {
    return with(d -> d.maskPrompt = maskPrompt);
  }

  public DataOptions withDocumentSeparator(String documentSeparator) {
    return with(d -> d.documentSeparator = documentSeparator);
  }

  public DataOptions withFields(String textField, String promptField, String completionField) {
    return with(
        d -> {
          d.textField = textField;
          d.promptField = promptField;
          d.completionField = completionField;
        });
  }

  /** Returns a copy with the fields {@code change} sets; the canonical constructor checks it. */
  private DataOptions with(Consumer<Draft> change) {
    Draft draft = new Draft(this);
    change.accept(draft);
    return draft.build();
  }

  /** The fields of a copy being made, as the withers change them. */
  private static final class Draft {
    DataFormat format;
    String textField;
    String promptField;
    String completionField;
    int seqLen;
    double validationFraction;
    long seed;
    boolean maskPrompt;
    String documentSeparator;

    Draft(DataOptions from) {
      format = from.format;
      textField = from.textField;
      promptField = from.promptField;
      completionField = from.completionField;
      seqLen = from.seqLen;
      validationFraction = from.validationFraction;
      seed = from.seed;
      maskPrompt = from.maskPrompt;
      documentSeparator = from.documentSeparator;
    }

    DataOptions build() {
      return new DataOptions(
          format,
          textField,
          promptField,
          completionField,
          seqLen,
          validationFraction,
          seed,
          maskPrompt,
          documentSeparator);
    }
  }
}
