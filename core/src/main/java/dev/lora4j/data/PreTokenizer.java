package dev.lora4j.data;

import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.JsonFields;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonNull;

/**
 * The {@code pre_tokenizer} step of a tokenizer.json: splits normalized text into the words that
 * BPE merges within. Each piece remembers whether it begins the whole input, which Metaspace's
 * {@code prepend_scheme: "first"} asks.
 */
@FunctionalInterface
interface PreTokenizer {
  /** GPT-2's word pattern, the one ByteLevel splits with when {@code use_regex} is true. */
  Pattern GPT2_WORDS =
      TokenizerJson.compile(
          "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
          "GPT-2 pattern");

  PreTokenizer NONE = (piece, out) -> out.add(piece);

  record Piece(String text, boolean atStart) {}

  void split(Piece piece, List<Piece> out);

  default List<Piece> apply(List<Piece> pieces) {
    List<Piece> out = new ArrayList<>(pieces.size());
    for (Piece piece : pieces) {
      split(piece, out);
    }
    return out;
  }

  /** GPT-2's pre-tokenizer: the word pattern, then each word's UTF-8 bytes as mapped characters. */
  static PreTokenizer byteLevel(boolean addPrefixSpace, boolean useRegex) {
    return (piece, out) -> {
      String text = piece.text();
      if (addPrefixSpace && !text.startsWith(" ")) {
        text = " " + text;
      }
      if (!useRegex) {
        out.add(new Piece(ByteLevel.encode(text), piece.atStart()));
        return;
      }
      List<Piece> words = new ArrayList<>();
      splitByPattern(new Piece(text, piece.atStart()), GPT2_WORDS, Behavior.ISOLATED, false, words);
      for (Piece word : words) {
        out.add(new Piece(ByteLevel.encode(word.text()), word.atStart()));
      }
    };
  }

  static PreTokenizer fromJson(JsonElement json, String where) {
    if (json == null || json instanceof JsonNull) {
      return NONE;
    }
    JsonFields step = TokenizerJson.object(json, where);
    String type = step.requireString("type");
    return switch (type) {
      case "ByteLevel" ->
          byteLevel(step.optBoolean("add_prefix_space", true), step.optBoolean("use_regex", true));
      case "Split" -> {
        Pattern pattern = TokenizerJson.pattern(step, "pattern");
        Behavior behavior = Behavior.fromJson(step, where);
        boolean invert = step.optBoolean("invert", false);
        yield (piece, out) -> splitByPattern(piece, pattern, behavior, invert, out);
      }
      case "Metaspace" -> metaspace(step);
      case "Digits" -> {
        Pattern digits =
            Pattern.compile(step.optBoolean("individual_digits", false) ? "\\p{N}" : "\\p{N}+");
        yield (piece, out) -> splitByPattern(piece, digits, Behavior.ISOLATED, false, out);
      }
      case "Sequence" -> {
        List<PreTokenizer> steps = new ArrayList<>();
        JsonArray items = TokenizerJson.array(step, "pretokenizers");
        for (int i = 0; i < items.size(); i++) {
          steps.add(fromJson(items.get(i), where + ".pretokenizers[" + i + "]"));
        }
        yield new PreTokenizer() {
          @Override
          public void split(Piece piece, List<Piece> out) {
            out.addAll(apply(List.of(piece)));
          }

          @Override
          public List<Piece> apply(List<Piece> pieces) {
            for (PreTokenizer s : steps) {
              pieces = s.apply(pieces);
            }
            return pieces;
          }
        };
      }
      default ->
          throw TokenizerJson.unsupported(
              where, type, "ByteLevel, Split, Metaspace, Digits, Sequence");
    };
  }

  /**
   * SentencePiece-style: spaces become "▁", optionally one is prepended, optionally split there.
   */
  private static PreTokenizer metaspace(JsonFields step) {
    String replacement = step.optString("replacement", "\u2581");
    String scheme =
        step.optString(
            "prepend_scheme", step.optBoolean("add_prefix_space", true) ? "always" : "never");
    if (!List.of("always", "first", "never").contains(scheme)) {
      throw new CheckpointException(
          step.source()
              + ": Metaspace prepend_scheme must be \"always\", \"first\" or \"never\", was \""
              + scheme
              + "\"");
    }
    boolean split = step.optBoolean("split", true);
    Pattern delimiter = Pattern.compile(Pattern.quote(replacement));
    return (piece, out) -> {
      String text = piece.text().replace(" ", replacement);
      boolean prepend = scheme.equals("always") || (scheme.equals("first") && piece.atStart());
      if (prepend && !text.startsWith(replacement)) {
        text = replacement + text;
      }
      Piece replaced = new Piece(text, piece.atStart());
      if (split) {
        splitByPattern(replaced, delimiter, Behavior.MERGED_WITH_NEXT, false, out);
      } else if (!text.isEmpty()) {
        out.add(replaced);
      }
    };
  }

  /** What happens to the matched delimiters, as in the tokenizers crate. */
  enum Behavior {
    REMOVED,
    ISOLATED,
    MERGED_WITH_PREVIOUS,
    MERGED_WITH_NEXT,
    CONTIGUOUS;

    static Behavior fromJson(JsonFields step, String where) {
      String name = step.requireString("behavior");
      return switch (name) {
        case "Removed" -> REMOVED;
        case "Isolated" -> ISOLATED;
        case "MergedWithPrevious" -> MERGED_WITH_PREVIOUS;
        case "MergedWithNext" -> MERGED_WITH_NEXT;
        case "Contiguous" -> CONTIGUOUS;
        default ->
            throw TokenizerJson.unsupported(
                where + ".behavior",
                name,
                "Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
      };
    }
  }

  /** Splits at every match of pattern; {@code invert} makes the matches the words instead. */
  static void splitByPattern(
      Piece piece, Pattern pattern, Behavior behavior, boolean invert, List<Piece> out) {
    String text = piece.text();
    // spans as {start, end, isMatch}, covering the text in order
    List<int[]> spans = new ArrayList<>();
    int last = 0;
    Matcher matcher = pattern.matcher(text);
    while (matcher.find()) {
      if (matcher.start() == matcher.end()) {
        continue;
      }
      if (matcher.start() > last) {
        spans.add(new int[] {last, matcher.start(), invert ? 1 : 0});
      }
      spans.add(new int[] {matcher.start(), matcher.end(), invert ? 0 : 1});
      last = matcher.end();
    }
    if (last < text.length()) {
      spans.add(new int[] {last, text.length(), invert ? 1 : 0});
    }
    List<int[]> kept = new ArrayList<>(spans.size());
    switch (behavior) {
      case REMOVED -> spans.stream().filter(s -> s[2] == 0).forEach(kept::add);
      case ISOLATED -> kept.addAll(spans);
      case CONTIGUOUS -> {
        for (int[] s : spans) {
          int[] previous = kept.isEmpty() ? null : kept.get(kept.size() - 1);
          if (previous != null && previous[2] == 1 && s[2] == 1) {
            previous[1] = s[1];
          } else {
            kept.add(s.clone());
          }
        }
      }
      case MERGED_WITH_PREVIOUS -> {
        boolean previousMatch = false;
        for (int[] s : spans) {
          if (s[2] == 1 && !previousMatch && !kept.isEmpty()) {
            kept.get(kept.size() - 1)[1] = s[1];
          } else {
            kept.add(s.clone());
          }
          previousMatch = s[2] == 1;
        }
      }
      case MERGED_WITH_NEXT -> {
        boolean nextMatch = false;
        for (int i = spans.size() - 1; i >= 0; i--) {
          int[] s = spans.get(i);
          if (s[2] == 1 && !nextMatch && !kept.isEmpty()) {
            kept.get(kept.size() - 1)[0] = s[0];
          } else {
            kept.add(s.clone());
          }
          nextMatch = s[2] == 1;
        }
        Collections.reverse(kept);
      }
    }
    for (int[] s : kept) {
      out.add(new Piece(text.substring(s[0], s[1]), piece.atStart() && s[0] == 0));
    }
  }
}
