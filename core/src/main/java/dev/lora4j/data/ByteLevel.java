package dev.lora4j.data;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * GPT-2's reversible map from the 256 byte values to printable characters ({@code bytes_to_unicode}
 * in OpenAI's encoder.py): printable Latin-1 bytes map to themselves, the rest to U+0100 upwards,
 * so a space becomes "Ġ" and a newline "Ċ".
 */
final class ByteLevel {
  private static final char[] BYTE_TO_CHAR = new char[256];
  private static final int[] CHAR_TO_BYTE = new int[512];

  static {
    Arrays.fill(CHAR_TO_BYTE, -1);
    int next = 256;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      char c = (char) (printable ? b : next++);
      BYTE_TO_CHAR[b] = c;
      CHAR_TO_BYTE[c] = b;
    }
  }

  private ByteLevel() {}

  /** The UTF-8 bytes of text, each written as its mapped character. */
  static String encode(String text) {
    return encode(text.getBytes(StandardCharsets.UTF_8));
  }

  static String encode(byte[] bytes) {
    char[] chars = new char[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      chars[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
    }
    return new String(chars);
  }

  /**
   * Appends the bytes that a token's characters stand for; a token with a character outside the map
   * (an added token such as a CJK special token) contributes its own UTF-8 bytes, as in Hugging
   * Face's ByteLevel decoder.
   */
  static void decodeTo(String token, ByteArrayOutputStream out) {
    byte[] bytes = new byte[token.length()];
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      int b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
      if (b < 0) {
        out.writeBytes(token.getBytes(StandardCharsets.UTF_8));
        return;
      }
      bytes[i] = (byte) b;
    }
    out.writeBytes(bytes);
  }
}
