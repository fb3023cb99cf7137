package dev.lora4j.data;

import dev.lora4j.io.CheckpointException;
import java.nio.file.Path;
import java.util.regex.Pattern;
import kotlinx.serialization.json.Json;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonNull;
import kotlinx.serialization.json.JsonObject;
import kotlinx.serialization.json.JsonPrimitive;

/** Typed reads of one line of a JSON Lines file; failures name file:line, the field and the fix. */
final class JsonLines {
  private static final Pattern JSON_NUMBER =
      Pattern.compile("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?");

  private JsonLines() {}

  static JsonObject object(String line, Path file, int lineNumber) {
    JsonElement json;
    try {
      json = Json.Default.parseToJsonElement(line);
    } catch (IllegalArgumentException e) { // kotlinx's SerializationException is one
      throw new CheckpointException(
          file
              + ":"
              + lineNumber
              + ": not valid JSON ("
              + firstLine(e.getMessage())
              + "): "
              + excerpt(line)
              + "; each line must be one JSON object",
          e);
    }
    String bareWord = bareWord(json);
    if (bareWord != null) {
      throw new CheckpointException(
          file
              + ":"
              + lineNumber
              + ": not valid JSON (unquoted word "
              + excerpt(bareWord)
              + "): "
              + excerpt(line)
              + "; each line must be one JSON object, with strings in double quotes");
    }
    if (!(json instanceof JsonObject object)) {
      throw new CheckpointException(
          file
              + ":"
              + lineNumber
              + ": must be a JSON object {...}, was "
              + excerpt(line)
              + "; each line must be one JSON object");
    }
    return object;
  }

  static JsonObject objectOrNull(String line) {
    try {
      JsonElement json = Json.Default.parseToJsonElement(line);
      return json instanceof JsonObject o && bareWord(o) == null ? o : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** The first unquoted value that is not true, false, null or a number; kotlinx accepts them. */
  private static String bareWord(JsonElement json) {
    if (json instanceof JsonObject object) {
      for (JsonElement value : object.values()) {
        String word = bareWord(value);
        if (word != null) {
          return word;
        }
      }
    } else if (json instanceof JsonArray array) {
      for (JsonElement value : array) {
        String word = bareWord(value);
        if (word != null) {
          return word;
        }
      }
    } else if (json instanceof JsonPrimitive p && !(json instanceof JsonNull) && !p.isString()) {
      String content = p.getContent();
      boolean literal = content.equals("true") || content.equals("false");
      return literal || JSON_NUMBER.matcher(content).matches() ? null : content;
    }
    return null;
  }

  static String string(JsonObject object, String field, Path file, int lineNumber, String option) {
    JsonElement value = require(object, field, file, lineNumber, option);
    if (!(value instanceof JsonPrimitive p) || value instanceof JsonNull || !p.isString()) {
      throw new CheckpointException(
          file
              + ":"
              + lineNumber
              + ": field '"
              + field
              + "' must be a string, was "
              + excerpt(String.valueOf(value)));
    }
    return p.getContent();
  }

  /** A list of token ids, each an integer in [0, vocabSize). */
  static int[] tokenIds(JsonObject object, String field, Path file, int lineNumber, int vocabSize) {
    JsonElement value = require(object, field, file, lineNumber, null);
    if (!(value instanceof JsonArray array)) {
      throw new CheckpointException(
          file
              + ":"
              + lineNumber
              + ": field '"
              + field
              + "' must be a list of token ids, was "
              + excerpt(String.valueOf(value)));
    }
    int[] ids = new int[array.size()];
    for (int i = 0; i < ids.length; i++) {
      JsonElement item = array.get(i);
      long id = -1;
      boolean integer = false;
      if (item instanceof JsonPrimitive p && !(item instanceof JsonNull) && !p.isString()) {
        try {
          id = Long.parseLong(p.getContent());
          integer = true;
        } catch (NumberFormatException e) {
          integer = false;
        }
      }
      if (!integer) {
        throw new CheckpointException(
            file
                + ":"
                + lineNumber
                + ": "
                + field
                + "["
                + i
                + "] must be an integer token id, was "
                + excerpt(String.valueOf(item)));
      }
      if (id < 0 || id >= vocabSize) {
        throw new CheckpointException(
            file
                + ":"
                + lineNumber
                + ": "
                + field
                + "["
                + i
                + "] = "
                + id
                + " is outside the model's vocabulary [0, "
                + vocabSize
                + "); tokenize the data with the model's tokenizer");
      }
      ids[i] = (int) id;
    }
    return ids;
  }

  private static JsonElement require(
      JsonObject object, String field, Path file, int lineNumber, String option) {
    JsonElement value = object.get(field);
    if (value == null || value instanceof JsonNull) {
      throw new CheckpointException(
          file
              + ":"
              + lineNumber
              + ": "
              + (value == null ? "no field '" + field + "'" : "field '" + field + "' is null")
              + " (the object has "
              + fieldNames(object)
              + ")"
              + (option == null
                  ? "; add it to every line"
                  : "; name the field with " + option + " or fix the line"));
    }
    return value;
  }

  static String fieldNames(JsonObject object) {
    return object.isEmpty() ? "no fields" : "fields " + String.join(", ", object.keySet());
  }

  static String excerpt(String text) {
    return text.length() <= 80 ? text : text.substring(0, 77) + "...";
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "no details";
    }
    int newline = message.indexOf('\n');
    return excerpt(newline < 0 ? message : message.substring(0, newline));
  }
}
