package dev.lora4j.data;

import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.JsonFields;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonObject;
import kotlinx.serialization.json.JsonPrimitive;

/** Reads the parts of a Hugging Face tokenizer.json (and the vocab.json + merges.txt pair). */
final class TokenizerJson {
  private TokenizerJson() {}

  /** One entry of {@code added_tokens}: matched in text before anything else. */
  record AddedToken(int id, String content, boolean special) {}

  /** The {@code model} section of a BPE tokenizer.json. */
  static BpeModel bpeModel(JsonFields model, String source) {
    String type = model.optString("type", "BPE");
    if (!type.equals("BPE")) {
      throw new CheckpointException(
          source
              + ": model.type is \""
              + type
              + "\"; only BPE tokenizers (GPT-2, Llama, Mistral, Qwen2 and the like) are supported");
    }
    for (String affix : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
      if (!model.optString(affix, "").isEmpty()) {
        throw new CheckpointException(
            source
                + ": model."
                + affix
                + " is \""
                + model.optString(affix, "")
                + "\"; BPE with subword affixes is not supported");
      }
    }
    if (model.has("dropout") && model.optDouble("dropout", 0) != 0) {
      throw new CheckpointException(
          source + ": model.dropout is set; BPE dropout is a training-time option, set it to null");
    }
    return new BpeModel(
        vocab(model.optObject("vocab"), source),
        merges(model.get("merges"), source),
        model.optString("unk_token", null),
        model.optBoolean("byte_fallback", false),
        model.optBoolean("fuse_unk", false),
        model.optBoolean("ignore_merges", false),
        source);
  }

  static Map<String, Integer> vocab(JsonFields vocab, String source) {
    Map<String, Integer> ids = new HashMap<>(vocab.json().size() * 2);
    for (String token : vocab.json().keySet()) {
      int id = vocab.requireInt(token);
      if (id < 0) {
        throw new CheckpointException(
            source + ": vocabulary id of \"" + token + "\" is negative (" + id + ")");
      }
      ids.put(token, id);
    }
    if (ids.isEmpty()) {
      throw new CheckpointException(source + ": the vocabulary is empty; re-download the file");
    }
    return ids;
  }

  /** Merges as {@code "a b"} strings (tokenizers before 0.20) or {@code ["a", "b"]} pairs. */
  static List<String[]> merges(JsonElement json, String source) {
    if (json == null) {
      return List.of();
    }
    if (!(json instanceof JsonArray items)) {
      throw new CheckpointException(source + ": model.merges must be a list, was " + show(json));
    }
    List<String[]> merges = new ArrayList<>(items.size());
    for (int i = 0; i < items.size(); i++) {
      JsonElement item = items.get(i);
      String[] pair = null;
      if (item instanceof JsonPrimitive p && p.isString()) {
        pair = mergeLine(p.getContent());
      } else if (item instanceof JsonArray a
          && a.size() == 2
          && a.get(0) instanceof JsonPrimitive left
          && left.isString()
          && a.get(1) instanceof JsonPrimitive right
          && right.isString()) {
        pair = new String[] {left.getContent(), right.getContent()};
      }
      if (pair == null) {
        throw new CheckpointException(
            source
                + ": model.merges["
                + i
                + "] must be \"a b\" or [\"a\", \"b\"], was "
                + show(item));
      }
      merges.add(pair);
    }
    return merges;
  }

  /** One merges.txt line split at its single space, or null when it does not have exactly one. */
  static String[] mergeLine(String line) {
    int space = line.indexOf(' ');
    if (space <= 0 || space == line.length() - 1 || line.indexOf(' ', space + 1) >= 0) {
      return null;
    }
    return new String[] {line.substring(0, space), line.substring(space + 1)};
  }

  static List<AddedToken> addedTokens(JsonElement json, String source) {
    if (json == null || !(json instanceof JsonArray items)) {
      return List.of();
    }
    List<AddedToken> tokens = new ArrayList<>();
    for (int i = 0; i < items.size(); i++) {
      JsonFields token = object(items.get(i), source + " added_tokens[" + i + "]");
      tokens.add(
          new AddedToken(
              token.requireInt("id"),
              token.requireString("content"),
              token.optBoolean("special", false)));
    }
    return tokens;
  }

  static JsonFields object(JsonElement json, String where) {
    if (!(json instanceof JsonObject object)) {
      throw new CheckpointException(where + ": must be an object {...}, was " + show(json));
    }
    return new JsonFields(object, where);
  }

  static JsonArray array(JsonFields step, String field) {
    JsonElement value = step.get(field);
    if (!(value instanceof JsonArray array)) {
      throw new CheckpointException(
          step.source() + ": field '" + field + "' must be a list, was " + show(value));
    }
    return array;
  }

  /** A {@code {"String": "..."}} (literal) or {@code {"Regex": "..."}} pattern. */
  static Pattern pattern(JsonFields step, String field) {
    JsonFields pattern = step.optObject(field);
    if (pattern.has("String")) {
      return Pattern.compile(Pattern.quote(pattern.requireString("String")));
    }
    if (pattern.has("Regex")) {
      return compile(pattern.requireString("Regex"), step.source() + " " + field);
    }
    throw new CheckpointException(
        step.source()
            + ": field '"
            + field
            + "' must be {\"String\": ...} or {\"Regex\": ...}, was "
            + show(step.get(field)));
  }

  /**
   * Compiles an Oniguruma pattern from a tokenizer.json; with Unicode classes {@code \s} means
   * Unicode White_Space, as it does in Oniguruma.
   */
  static Pattern compile(String regex, String where) {
    try {
      return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
    } catch (PatternSyntaxException e) {
      throw new CheckpointException(
          where
              + ": the regex "
              + regex
              + " does not compile in Java ("
              + e.getDescription()
              + "); this pre-tokenizer is not supported",
          e);
    }
  }

  static CheckpointException unsupported(String where, String type, String supported) {
    return new CheckpointException(
        where + ": type \"" + type + "\" is not supported; supported are " + supported);
  }

  static String show(JsonElement value) {
    String text = String.valueOf(value);
    return text.length() <= 120 ? text : text.substring(0, 117) + "...";
  }
}
