package dev.lora4j.io;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A light pass over raw JSON text for two things kotlinx's parser does not report: nesting so deep
 * that its recursive descent would overflow the stack, and keys repeated within one object (it
 * silently keeps the last one).
 */
final class JsonScan {
  /** serde_json's recursion limit, which the reference safetensors reader inherits. */
  static final int MAX_DEPTH = 128;

  private JsonScan() {}

  /** A key seen twice in one object; {@code topLevelKey} is null when that object is the root. */
  record Duplicate(String topLevelKey, String key) {}

  /** Whether brackets outside strings nest deeper than {@link #MAX_DEPTH}. */
  static boolean tooDeep(String json) {
    int depth = 0;
    boolean inString = false;
    for (int i = 0; i < json.length(); i++) {
      char c = json.charAt(i);
      if (inString) {
        if (c == '\\') {
          i++;
        } else if (c == '"') {
          inString = false;
        }
      } else if (c == '"') {
        inString = true;
      } else if (c == '{' || c == '[') {
        if (++depth > MAX_DEPTH) {
          return true;
        }
      } else if (c == '}' || c == ']') {
        depth = Math.max(0, depth - 1);
      }
    }
    return false;
  }

  /** The first repeated key, or null. Meant for text that already parsed as JSON. */
  static Duplicate firstDuplicateKey(String json) {
    List<Set<String>> open = new ArrayList<>(); // one entry per open container, null for arrays
    String topLevelKey = null;
    int n = json.length();
    int i = 0;
    while (i < n) {
      char c = json.charAt(i);
      if (c == '{' || c == '[') {
        open.add(c == '{' ? new HashSet<>() : null);
        i++;
      } else if (c == '}' || c == ']') {
        if (!open.isEmpty()) {
          open.remove(open.size() - 1);
        }
        i++;
      } else if (c == '"') {
        int end = closingQuote(json, i);
        String raw = json.substring(i + 1, end);
        i = end + 1;
        int next = i;
        while (next < n && Character.isWhitespace(json.charAt(next))) {
          next++;
        }
        Set<String> keys = open.isEmpty() ? null : open.get(open.size() - 1);
        if (next < n && json.charAt(next) == ':' && keys != null) {
          String key = unescape(raw);
          if (!keys.add(key)) {
            return new Duplicate(open.size() == 1 ? null : topLevelKey, key);
          }
          if (open.size() == 1) {
            topLevelKey = key;
          }
        }
      } else {
        i++;
      }
    }
    return null;
  }

  /** Index of the quote closing the string opened at {@code open}, or the text length. */
  private static int closingQuote(String json, int open) {
    for (int i = open + 1; i < json.length(); i++) {
      char c = json.charAt(i);
      if (c == '\\') {
        i++;
      } else if (c == '"') {
        return i;
      }
    }
    return json.length();
  }

  private static String unescape(String raw) {
    if (raw.indexOf('\\') < 0) {
      return raw;
    }
    StringBuilder out = new StringBuilder(raw.length());
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c != '\\' || i + 1 >= raw.length()) {
        out.append(c);
        continue;
      }
      char e = raw.charAt(++i);
      switch (e) {
        case 'b' -> out.append('\b');
        case 'f' -> out.append('\f');
        case 'n' -> out.append('\n');
        case 'r' -> out.append('\r');
        case 't' -> out.append('\t');
        case 'u' -> {
          if (isHex(raw, i + 1, i + 5)) {
            out.append((char) Integer.parseInt(raw.substring(i + 1, i + 5), 16));
            i += 4;
          } else {
            out.append("\\u");
          }
        }
        default -> out.append(e);
      }
    }
    return out.toString();
  }

  private static boolean isHex(String s, int from, int to) {
    if (to > s.length()) {
      return false;
    }
    for (int i = from; i < to; i++) {
      if (Character.digit(s.charAt(i), 16) < 0) {
        return false;
      }
    }
    return true;
  }
}
