package dev.lora4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors files byte by byte, including malformed ones. */
final class TestFiles {
  private TestFiles() {}

  static Path conformance() {
    String configured = System.getProperty("lora4j.conformance");
    return configured != null ? Path.of(configured) : Path.of("src/test/resources/conformance");
  }

  /** A file whose length prefix matches the header. */
  static Path safetensors(Path file, String header, byte[] data) throws IOException {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    return raw(file, json.length, json, data);
  }

  /** A file with any length prefix. */
  static Path raw(Path file, long headerLength, byte[] header, byte[] data) throws IOException {
    Files.write(file, concat(headerLength, header, data));
    return file;
  }

  static byte[] concat(long headerLength, byte[] header, byte[] data) {
    ByteBuffer bytes =
        ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    return bytes.putLong(headerLength).put(header).put(data).array();
  }

  static byte[] floatBytes(float... values) {
    ByteBuffer bytes = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    bytes.asFloatBuffer().put(values);
    return bytes.array();
  }

  /** Classic 16-bytes-a-line dump with offsets and ASCII. */
  static String hexDump(byte[] bytes) {
    StringBuilder out = new StringBuilder();
    for (int line = 0; line < bytes.length; line += 16) {
      out.append(String.format("%08x  ", line));
      StringBuilder ascii = new StringBuilder();
      for (int i = line; i < line + 16; i++) {
        if (i < bytes.length) {
          out.append(String.format("%02x ", bytes[i] & 0xff));
          char c = (char) (bytes[i] & 0xff);
          ascii.append(c >= 32 && c < 127 ? c : '.');
        } else {
          out.append("   ");
        }
      }
      out.append(' ').append(ascii).append('\n');
    }
    return out.toString();
  }
}
