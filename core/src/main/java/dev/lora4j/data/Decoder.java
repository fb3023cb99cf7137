package dev.lora4j.data;

import dev.lora4j.io.JsonFields;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonNull;

/**
 * The {@code decoder} step of a tokenizer.json: turns the token strings of some ids back into text.
 * Steps work on the list of token strings, as in the tokenizers crate, so that a Sequence can
 * replace "▁", reassemble {@code <0xNN>} bytes, fuse and strip in order.
 */
@FunctionalInterface
interface Decoder {
  /** No decoder in the file: tokens are joined with spaces, as the tokenizers crate does. */
  Decoder NONE = tokens -> List.of(String.join(" ", tokens));

  Decoder BYTE_LEVEL =
      tokens -> {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (String token : tokens) {
          ByteLevel.decodeTo(token, bytes);
        }
        return List.of(bytes.toString(StandardCharsets.UTF_8));
      };

  List<String> decode(List<String> tokens);

  static Decoder fromJson(JsonElement json, String where) {
    if (json == null || json instanceof JsonNull) {
      return NONE;
    }
    JsonFields step = TokenizerJson.object(json, where);
    String type = step.requireString("type");
    return switch (type) {
      case "ByteLevel" -> BYTE_LEVEL;
      case "ByteFallback" -> Decoder::byteFallback;
      case "Fuse" -> tokens -> List.of(String.join("", tokens));
      case "Replace" -> {
        Pattern pattern = TokenizerJson.pattern(step, "pattern");
        String replacement = Matcher.quoteReplacement(step.requireString("content"));
        yield tokens ->
            tokens.stream().map(t -> pattern.matcher(t).replaceAll(replacement)).toList();
      }
      case "Strip" -> {
        String content = step.requireString("content");
        int start = step.optInt("start", 0);
        int stop = step.optInt("stop", 0);
        yield tokens -> tokens.stream().map(t -> strip(t, content, start, stop)).toList();
      }
      case "Metaspace" -> {
        String replacement = step.optString("replacement", "\u2581");
        String scheme =
            step.optString(
                "prepend_scheme", step.optBoolean("add_prefix_space", true) ? "always" : "never");
        boolean stripFirst = !scheme.equals("never");
        yield tokens -> {
          List<String> out = new ArrayList<>(tokens.size());
          for (int i = 0; i < tokens.size(); i++) {
            out.add(tokens.get(i).replace(replacement, i == 0 && stripFirst ? "" : " "));
          }
          return out;
        };
      }
      case "Sequence" -> {
        List<Decoder> steps = new ArrayList<>();
        JsonArray items = TokenizerJson.array(step, "decoders");
        for (int i = 0; i < items.size(); i++) {
          steps.add(fromJson(items.get(i), where + ".decoders[" + i + "]"));
        }
        yield tokens -> {
          for (Decoder s : steps) {
            tokens = s.decode(tokens);
          }
          return tokens;
        };
      }
      default ->
          throw TokenizerJson.unsupported(
              where, type, "ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace, Sequence");
    };
  }

  /**
   * Runs of {@code <0xNN>} tokens become the text their bytes spell, or one U+FFFD per byte when
   * they are not valid UTF-8.
   */
  private static List<String> byteFallback(List<String> tokens) {
    List<String> out = new ArrayList<>(tokens.size());
    ByteArrayOutputStream pending = new ByteArrayOutputStream();
    for (String token : tokens) {
      int b = byteValue(token);
      if (b >= 0) {
        pending.write(b);
        continue;
      }
      flush(pending, out);
      out.add(token);
    }
    flush(pending, out);
    return out;
  }

  private static int byteValue(String token) {
    if (token.length() != 6 || !token.startsWith("<0x") || token.charAt(5) != '>') {
      return -1;
    }
    try {
      return Integer.parseInt(token.substring(3, 5), 16);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static void flush(ByteArrayOutputStream pending, List<String> out) {
    if (pending.size() == 0) {
      return;
    }
    try {
      out.add(
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(pending.toByteArray()))
              .toString());
    } catch (CharacterCodingException e) {
      out.add("\uFFFD".repeat(pending.size()));
    }
    pending.reset();
  }

  private static String strip(String token, String content, int start, int stop) {
    int from = 0;
    int to = token.length();
    for (int i = 0; i < start && token.startsWith(content, from); i++) {
      from += content.length();
    }
    for (int i = 0;
        i < stop
            && to - content.length() >= from
            && token.startsWith(content, to - content.length());
        i++) {
      to -= content.length();
    }
    return token.substring(from, to);
  }
}
