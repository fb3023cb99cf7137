package dev.lora4j.io;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import kotlinx.serialization.json.Json;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonNull;
import kotlinx.serialization.json.JsonObject;
import kotlinx.serialization.json.JsonPrimitive;

/**
 * Typed reads of a JSON object such as a Hugging Face {@code config.json}. Every missing field or
 * wrong type throws a {@link CheckpointException} naming the source, the field and the value:
 * {@code /m/config.json: field 'n_embd' must be an integer, was "abc"}. A JSON null counts as
 * absent.
 */
public final class JsonFields {
  private static final Pattern JSON_NUMBER =
      Pattern.compile("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?");

  private final JsonObject object;
  private final String source;
  private final String prefix;

  public JsonFields(JsonObject object, String source) {
    this(object, source, "");
  }

  private JsonFields(JsonObject object, String source, String prefix) {
    this.object = Objects.requireNonNull(object, "object");
    this.source = Objects.requireNonNull(source, "source");
    this.prefix = prefix;
  }

  /** Reads a file holding one JSON object. */
  public static JsonFields parse(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new CheckpointException(file + ": file not found; check the path", e);
    } catch (CharacterCodingException e) {
      throw new CheckpointException(
          file + ": not valid UTF-8 text; re-download or re-save the file as UTF-8 JSON", e);
    } catch (IOException e) {
      throw new CheckpointException(file + ": cannot read: " + e + "; check the path", e);
    }
    String fix = "; re-download or fix the file";
    if (JsonScan.tooDeep(text)) {
      throw new CheckpointException(
          file + ": JSON nests deeper than " + JsonScan.MAX_DEPTH + " levels" + fix);
    }
    JsonElement root;
    try {
      root = Json.Default.parseToJsonElement(text);
    } catch (IllegalArgumentException e) { // kotlinx's SerializationException is one
      throw new CheckpointException(
          file + ": not valid JSON (" + firstLine(e.getMessage()) + ")" + fix, e);
    }
    if (!(root instanceof JsonObject object)) {
      throw new CheckpointException(
          file + ": must hold a JSON object {...}, was " + SafetensorsFile.show(root) + fix);
    }
    return new JsonFields(object, file.toString());
  }

  public String source() {
    return source;
  }

  public JsonObject json() {
    return object;
  }

  /** Present and not null. */
  public boolean has(String field) {
    JsonElement value = object.get(field);
    return value != null && !(value instanceof JsonNull);
  }

  /** The raw value, or null when the field is absent. */
  public JsonElement get(String field) {
    return object.get(field);
  }

  public int requireInt(String field) {
    return intValue(field, require(field));
  }

  public int optInt(String field, int defaultValue) {
    return has(field) ? intValue(field, object.get(field)) : defaultValue;
  }

  public double requireDouble(String field) {
    return doubleValue(field, require(field));
  }

  public double optDouble(String field, double defaultValue) {
    return has(field) ? doubleValue(field, object.get(field)) : defaultValue;
  }

  public String requireString(String field) {
    return stringValue(field, require(field));
  }

  public String optString(String field, String defaultValue) {
    return has(field) ? stringValue(field, object.get(field)) : defaultValue;
  }

  public boolean optBoolean(String field, boolean defaultValue) {
    if (!has(field)) {
      return defaultValue;
    }
    JsonElement value = object.get(field);
    if (value instanceof JsonPrimitive p && !p.isString()) {
      if (p.getContent().equals("true")) {
        return true;
      }
      if (p.getContent().equals("false")) {
        return false;
      }
    }
    throw wrongType(field, "must be true or false", value);
  }

  /** A list of strings; empty when the field is absent or null. */
  public List<String> optStringList(String field) {
    if (!has(field)) {
      return List.of();
    }
    JsonElement value = object.get(field);
    if (!(value instanceof JsonArray array)) {
      throw wrongType(field, "must be a list of strings", value);
    }
    List<String> strings = new ArrayList<>(array.size());
    for (JsonElement item : array) {
      if (!(item instanceof JsonPrimitive p) || item instanceof JsonNull || !p.isString()) {
        throw wrongType(field, "must be a list of strings", value);
      }
      strings.add(p.getContent());
    }
    return List.copyOf(strings);
  }

  /**
   * A nested object (such as PEFT's {@code rank_pattern}); empty when absent or null. Its messages
   * name fields with a dotted path, for example {@code 'rank_pattern.v_proj'}.
   */
  public JsonFields optObject(String field) {
    if (!has(field)) {
      return new JsonFields(new JsonObject(Map.of()), source, prefix + field + ".");
    }
    JsonElement value = object.get(field);
    if (!(value instanceof JsonObject nested)) {
      throw wrongType(field, "must be an object {...}", value);
    }
    return new JsonFields(nested, source, prefix + field + ".");
  }

  @Override
  public String toString() {
    return "JsonFields(" + source + ")";
  }

  private JsonElement require(String field) {
    if (!has(field)) {
      throw new CheckpointException(
          source
              + ": "
              + (object.containsKey(field)
                  ? "required field '" + prefix + field + "' is null"
                  : "missing required field '" + prefix + field + "'"));
    }
    return object.get(field);
  }

  private int intValue(String field, JsonElement value) {
    String literal = numberLiteral(value);
    BigDecimal number = literal == null ? null : parseBigDecimal(literal);
    if (number == null || !isInteger(number)) {
      throw wrongType(field, "must be an integer", value);
    }
    if (number.compareTo(BigDecimal.valueOf(Integer.MIN_VALUE)) < 0
        || number.compareTo(BigDecimal.valueOf(Integer.MAX_VALUE)) > 0) {
      throw wrongType(
          field,
          "must be an integer between " + Integer.MIN_VALUE + " and " + Integer.MAX_VALUE,
          value);
    }
    return number.intValue();
  }

  private double doubleValue(String field, JsonElement value) {
    String literal = numberLiteral(value);
    double result = literal == null ? Double.NaN : Double.parseDouble(literal);
    if (!Double.isFinite(result)) {
      throw wrongType(field, "must be a finite number", value);
    }
    return result;
  }

  private String stringValue(String field, JsonElement value) {
    if (!(value instanceof JsonPrimitive p) || value instanceof JsonNull || !p.isString()) {
      throw wrongType(field, "must be a string", value);
    }
    return p.getContent();
  }

  /** The text of a strict JSON number, or null; kotlinx also accepts bare words such as NaN. */
  private static String numberLiteral(JsonElement value) {
    if (!(value instanceof JsonPrimitive p) || value instanceof JsonNull || p.isString()) {
      return null;
    }
    String text = p.getContent();
    return JSON_NUMBER.matcher(text).matches() ? text : null;
  }

  private static BigDecimal parseBigDecimal(String literal) {
    try {
      return new BigDecimal(literal);
    } catch (NumberFormatException e) { // exponent beyond int range
      return null;
    }
  }

  /** Integral without expanding huge exponents such as 1e999999999 into digits. */
  private static boolean isInteger(BigDecimal number) {
    if (number.signum() == 0) {
      return true;
    }
    BigDecimal stripped = number.stripTrailingZeros();
    return stripped.scale() <= 0;
  }

  private CheckpointException wrongType(String field, String rule, JsonElement value) {
    return new CheckpointException(
        source
            + ": field '"
            + prefix
            + field
            + "' "
            + rule
            + ", was "
            + SafetensorsFile.show(value));
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "no details";
    }
    int newline = message.indexOf('\n');
    String line = newline < 0 ? message : message.substring(0, newline);
    return line.length() <= 200 ? line : line.substring(0, 197) + "...";
  }
}
