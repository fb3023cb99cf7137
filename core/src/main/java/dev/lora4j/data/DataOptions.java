package dev.lora4j.data;

import java.util.Objects;

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

  public DataOptions withSeqLen(int seqLen) {
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

  public DataOptions withValidation(double validationFraction, long seed) {
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

  public DataOptions withMaskPrompt(boolean maskPrompt) {
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

  public DataOptions withDocumentSeparator(String documentSeparator) {
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

  public DataOptions withFields(String textField, String promptField, String completionField) {
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
