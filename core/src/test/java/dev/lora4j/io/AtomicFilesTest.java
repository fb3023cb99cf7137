package dev.lora4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
  @TempDir Path dir;

  private List<String> listing() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void replacesTheFileAndLeavesNoTemporaryFile() throws IOException {
    Path file = dir.resolve("adapter_config.json");
    AtomicFiles.writeString(file, "old");
    AtomicFiles.writeString(file, "new");
    assertEquals("new", Files.readString(file));
    assertEquals(List.of("adapter_config.json"), listing());
  }

  @Test
  void createsMissingParentDirectories() throws IOException {
    Path file = dir.resolve("out/step-100/adapter_config.json");
    AtomicFiles.writeString(file, "{}");
    assertEquals("{}", Files.readString(file));
  }

  @Test
  void failureKeepsTheOldContentAndDeletesTheTemporaryFile() throws IOException {
    Path file = dir.resolve("model.safetensors");
    AtomicFiles.writeString(file, "old");

    assertThrows(
        UncheckedIOException.class,
        () ->
            AtomicFiles.write(
                file,
                out -> {
                  out.write(new byte[100_000]);
                  throw new UncheckedIOException(new IOException("disk full"));
                }));
    CheckpointException e =
        assertThrows(
            CheckpointException.class,
            () ->
                AtomicFiles.write(
                    file,
                    out -> {
                      throw new IOException("disk full");
                    }));
    assertTrue(
        e.getMessage().contains("model.safetensors") && e.getMessage().contains("disk full"));

    assertEquals("old", Files.readString(file));
    assertEquals(List.of("model.safetensors"), listing());
  }
}
