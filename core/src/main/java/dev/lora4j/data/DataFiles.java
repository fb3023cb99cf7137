package dev.lora4j.data;

import dev.lora4j.io.CheckpointException;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
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
    int[] lines = {0};
    read(
        file,
        reader -> {
          char[] buffer = new char[1 << 16];
          for (int n; (n = reader.read(buffer)) > 0; ) {
            text.append(buffer, 0, n);
            for (int i = 0; i < n; i++) {
              lines[0] += buffer[i] == '\n' ? 1 : 0;
            }
          }
        },
        lines);
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
        },
        lineNumber);
  }

  /** The first line with something other than whitespace, or null when there is none. */
  static Line firstNonBlankLine(Path file) {
    Line[] found = {null};
    int[] lineNumber = {0};
    read(
        file,
        reader -> {
          for (String line; found[0] == null && (line = reader.readLine()) != null; ) {
            lineNumber[0]++;
            if (!line.isBlank()) {
              found[0] = new Line(lineNumber[0], line);
            }
          }
        },
        lineNumber);
    return found[0];
  }

  private interface ReaderAction {
    void accept(BufferedReader reader) throws IOException;
  }

  /** {@code lineNumber[0]} counts the lines read whole, so a decoding failure is on the next. */
  private static void read(Path file, ReaderAction action, int[] lineNumber) {
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
          file + ":" + (lineNumber[0] + 1) + ": not valid UTF-8 text; re-save the file as UTF-8",
          e);
    } catch (ZipException | EOFException e) {
      throw new CheckpointException(
          file + ": a damaged or truncated gzip file (" + e.getMessage() + "); re-create it", e);
    } catch (IOException e) {
      throw new CheckpointException(file + ": cannot read: " + e + "; check the file", e);
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
