package dev.lora4j.data;

import dev.lora4j.io.CheckpointException;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads data files as strict UTF-8 text, gunzipping those that start with gzip's magic bytes; every
 * failure names the file (and the line, where there is one) and what to do.
 */
final class DataFiles {
  private DataFiles() {}

  /** Receives one line of a file; line numbers start at 1. */
  @FunctionalInterface
  interface LineAction {
    void accept(int lineNumber, String line);
  }

  /** A line of a file with its number. */
  record Line(int number, String text) {}

  static String readText(Path file) {
    StringBuilder text = new StringBuilder();
    read(
        file,
        reader -> {
          char[] buffer = new char[1 << 16];
          for (int n; (n = reader.read(buffer)) > 0; ) {
            text.append(buffer, 0, n);
          }
        });
    return text.toString();
  }

  static void forEachLine(Path file, LineAction action) {
    int[] lineNumber = {0};
    read(
        file,
        reader -> {
          for (String line; (line = reader.readLine()) != null; ) {
            action.accept(++lineNumber[0], line);
          }
        });
  }

  /** The first line with something other than whitespace, or null when there is none. */
  static Line firstNonBlankLine(Path file) {
    Line[] found = {null};
    read(
        file,
        reader -> {
          int number = 0;
          for (String line; found[0] == null && (line = reader.readLine()) != null; ) {
            number++;
            if (!line.isBlank()) {
              found[0] = new Line(number, line);
            }
          }
        });
    return found[0];
  }

  private interface ReaderAction {
    void accept(BufferedReader reader) throws IOException;
  }

  private static void read(Path file, ReaderAction action) {
    if (Files.isDirectory(file)) {
      throw new CheckpointException(file + ": is a directory; pass the data files in it");
    }
    try (InputStream in = open(file);
        BufferedReader reader =
            new BufferedReader(
                new InputStreamReader(
                    in,
                    StandardCharsets.UTF_8
                        .newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)),
                1 << 16)) {
      action.accept(reader);
    } catch (NoSuchFileException e) {
      throw new CheckpointException(file + ": file not found; check the path", e);
    } catch (AccessDeniedException e) {
      throw new CheckpointException(
          file + ": cannot read it (permission denied); check the file's permissions", e);
    } catch (CharacterCodingException e) {
      throw new CheckpointException(
          file
              + ":"
              + firstMalformedLine(file)
              + ": not valid UTF-8 text; re-save the file as UTF-8",
          e);
    } catch (ZipException | EOFException e) {
      throw new CheckpointException(
          file + ": a damaged or truncated gzip file (" + e.getMessage() + "); re-create it", e);
    } catch (IOException e) {
      throw new CheckpointException(file + ": cannot read: " + e + "; check the file", e);
    }
  }

  /**
   * The line of the first byte that is not UTF-8, found by decoding again: a reader decodes ahead
   * of the lines it has returned, so its own count is not where the bad byte is.
   */
  private static String firstMalformedLine(Path file) {
    CharsetDecoder decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    try (InputStream in = open(file)) {
      ByteBuffer bytes = ByteBuffer.allocate(1 << 16);
      CharBuffer chars = CharBuffer.allocate(1 << 16);
      int line = 1;
      boolean end = false;
      while (true) {
        int n = in.read(bytes.array(), bytes.position(), bytes.remaining());
        end = n < 0;
        bytes.position(bytes.position() + Math.max(n, 0));
        bytes.flip();
        CoderResult result = decoder.decode(bytes, chars, end);
        chars.flip();
        while (chars.hasRemaining()) {
          line += chars.get() == '\n' ? 1 : 0;
        }
        chars.clear();
        if (result.isError()) {
          return String.valueOf(line);
        }
        bytes.compact();
        if (end) {
          return "?";
        }
      }
    } catch (IOException e) {
      return "?";
    }
  }

  private static InputStream open(Path file) throws IOException {
    InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
    in.mark(2);
    boolean gzip = in.read() == 0x1f && in.read() == 0x8b;
    in.reset();
    return gzip ? new GZIPInputStream(in, 1 << 16) : in;
  }
}
