package dev.lora4j.cli;

import dev.lora4j.data.DataFormat;
import dev.lora4j.data.DataOptions;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * --format, the JSONL field names and --document-separator: how `train` and `eval` read their data
 * files. The data loader's error messages name these flags.
 */
final class DataFileOptions {
  @Option(
      names = "--format",
      description =
          "Data format: text, jsonl-text, prompt-completion, tokenized (default: detect).")
  String format;

  @Option(
      names = "--text-field",
      defaultValue = "text",
      description = "JSONL text field. Default: ${DEFAULT-VALUE}.")
  String textField;

  @Option(
      names = "--prompt-field",
      defaultValue = "prompt",
      description =
          "JSONL prompt field of prompt/completion rows (its tokens are not scored). Default:"
              + " ${DEFAULT-VALUE}.")
  String promptField;

  @Option(
      names = "--completion-field",
      defaultValue = "completion",
      description = "JSONL completion field of prompt/completion rows. Default: ${DEFAULT-VALUE}.")
  String completionField;

  @Option(
      names = "--document-separator",
      description = "TEXT: a line between documents (e.g. %%) or \\n\\n.")
  String documentSeparator;

  /** These flags with the run's sequence length, validation share and seed; prompts masked. */
  DataOptions dataOptions(int seqLen, double validationSplit, long seed) {
    return DataOptions.defaults(seqLen)
        .withFormat(format == null ? null : format(format))
        .withFields(textField, promptField, completionField)
        .withValidation(validationSplit, seed)
        .withDocumentSeparator(
            documentSeparator == null ? null : documentSeparator.replace("\\n", "\n"));
  }

  private static DataFormat format(String name) {
    try {
      return DataFormat.valueOf(name.toUpperCase(Locale.ROOT).replace('-', '_'));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--format takes text, jsonl-text, prompt-completion or tokenized, got '" + name + "'");
    }
  }
}
