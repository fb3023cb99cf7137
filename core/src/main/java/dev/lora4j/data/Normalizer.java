package dev.lora4j.data;

import dev.lora4j.io.JsonFields;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonNull;

/** The {@code normalizer} step of a tokenizer.json, applied to text between added tokens. */
@FunctionalInterface
interface Normalizer {
  Normalizer NONE = text -> text;

  String normalize(String text);

  /** The normalizer a tokenizer.json describes; {@code where} names it in messages. */
  static Normalizer fromJson(JsonElement json, String where) {
    if (json == null || json instanceof JsonNull) {
      return NONE;
    }
    JsonFields step = TokenizerJson.object(json, where);
    String type = step.requireString("type");
    return switch (type) {
      case "NFC" -> text -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFC);
      case "NFD" -> text -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFD);
      case "NFKC" -> text -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFKC);
      case "NFKD" -> text -> java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFKD);
      case "Lowercase" -> text -> text.toLowerCase(Locale.ROOT);
      case "Prepend" -> {
        String prefix = step.requireString("prepend");
        yield text -> text.isEmpty() ? text : prefix + text;
      }
      case "Replace" -> {
        Pattern pattern = TokenizerJson.pattern(step, "pattern");
        String replacement = Matcher.quoteReplacement(step.requireString("content"));
        yield text -> pattern.matcher(text).replaceAll(replacement);
      }
      case "Strip" -> {
        boolean left = step.optBoolean("strip_left", false);
        boolean right = step.optBoolean("strip_right", false);
        yield text ->
            right
                ? (left ? text.strip() : text.stripTrailing())
                : left ? text.stripLeading() : text;
      }
      case "Sequence" -> {
        List<Normalizer> steps = new ArrayList<>();
        JsonArray items = TokenizerJson.array(step, "normalizers");
        for (int i = 0; i < items.size(); i++) {
          steps.add(fromJson(items.get(i), where + ".normalizers[" + i + "]"));
        }
        yield text -> {
          for (Normalizer s : steps) {
            text = s.normalize(text);
          }
          return text;
        };
      }
      default ->
          throw TokenizerJson.unsupported(
              where, type, "NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, Sequence");
    };
  }
}
