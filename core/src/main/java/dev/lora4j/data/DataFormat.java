package dev.lora4j.data;

import dev.lora4j.io.CheckpointException;
import java.nio.file.Path;
import java.util.Locale;
import kotlinx.serialization.json.JsonObject;

/** The layouts of a training data file; each file may be plain or gzip-compressed. */
public enum DataFormat {
  /** Plain UTF-8 text, split into documents by {@link DataOptions#documentSeparator()}. */
  TEXT,
  /** JSON Lines, one {@code {"text": ...}} document a line. */
  JSONL_TEXT,
  /** JSON Lines, one {@code {"prompt": ..., "completion": ...}} example a line. */
  PROMPT_COMPLETION,
  /** JSON Lines, one {@code {"input_ids": [...]}} list of token ids a line. */
  TOKENIZED;

  /** {@link #detect(Path, DataOptions)} with the usual field names. */
  public static DataFormat detect(Path file) {
    return detect(file, DataOptions.defaults(2));
  }

  /**
   * The format of a file from its first non-blank line: a JSON object is told apart by its fields
   * (input_ids, then prompt + completion, then the text field); anything else is TEXT, except in a
   * file named .jsonl, .ndjson or .json (optionally .gz), where it is an error.
   */
  public static DataFormat detect(Path file, DataOptions options) {
    DataFiles.Line first = DataFiles.firstNonBlankLine(file);
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT).replaceFirst("\\.gz$", "");
    boolean jsonName =
        name.endsWith(".jsonl") || name.endsWith(".ndjson") || name.endsWith(".json");
    if (first == null) {
      return jsonName ? JSONL_TEXT : TEXT;
    }
    String line = first.text().strip();
    if (line.startsWith("[") && jsonName) {
      throw new CheckpointException(
          file
              + ":"
              + first.number()
              + ": starts a JSON array; write JSON Lines instead, one object per line");
    }
    if (!line.startsWith("{")) {
      if (jsonName) {
        throw new CheckpointException(
            file
                + ":"
                + first.number()
                + ": expected a JSON object per line, was "
                + JsonLines.excerpt(line)
                + "; fix the file, or rename it if it is plain text");
      }
      return TEXT;
    }
    JsonObject object;
    if (jsonName) {
      object = JsonLines.object(line, file, first.number());
    } else {
      object = JsonLines.objectOrNull(line);
      if (object == null) {
        return TEXT;
      }
    }
    if (object.containsKey("input_ids")) {
      return TOKENIZED;
    }
    if (object.containsKey(options.promptField())
        && object.containsKey(options.completionField())) {
      return PROMPT_COMPLETION;
    }
    if (object.containsKey(options.textField())) {
      return JSONL_TEXT;
    }
    throw new CheckpointException(
        file
            + ":"
            + first.number()
            + ": cannot tell the format: the object has "
            + JsonLines.fieldNames(object)
            + ", not \""
            + options.textField()
            + "\", \""
            + options.promptField()
            + "\" + \""
            + options.completionField()
            + "\" or \"input_ids\"; name the fields in the data options (--text-field,"
            + " --prompt-field, --completion-field) or set the format");
  }
}
