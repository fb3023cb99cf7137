package dev.lora4j.train;

import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.JsonFields;
import dev.lora4j.io.SafetensorsFile;
import dev.lora4j.io.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Training checkpoints under `<out>/checkpoints/step-NNNNNNNN/`. Each is written into a hidden
 * temporary directory and renamed into place in one atomic step, so a killed process leaves either
 * the previous checkpoint or the new one, never half of one. Only the newest K are kept.
 */
public final class CheckpointStore {
  static final String STATE_FILE = "trainer_state.json";
  static final String PARAMS_FILE = "params.safetensors";
  static final String OPTIMIZER_FILE = "optimizer.safetensors";

  /** Test hook: milliseconds to pause between files, so a test can kill a write midway. */
  static final String PAUSE_PROPERTY = "lora4j.checkpoint.pauseMillis";

  private final Path root;

  public CheckpointStore(Path outDir) {
    this.root = outDir.resolve("checkpoints");
  }

  public Path root() {
    return root;
  }

  /** Complete checkpoints, oldest first. */
  public List<Path> list() {
    if (!Files.isDirectory(root)) {
      return List.of();
    }
    try (Stream<Path> dirs = Files.list(root)) {
      return dirs.filter(d -> d.getFileName().toString().matches("step-\\d{8}"))
          .filter(d -> Files.isRegularFile(d.resolve(STATE_FILE)))
          .sorted(Comparator.comparing(d -> d.getFileName().toString()))
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Path latest() {
    List<Path> all = list();
    return all.isEmpty() ? null : all.get(all.size() - 1);
  }

  /** What a checkpoint holds, read back. */
  public record Saved(
      Path dir, JsonFields state, Map<String, float[]> params, Map<String, float[]> optimizer) {}

  /**
   * Writes one checkpoint atomically and prunes old ones.
   *
   * @param adapterWriter writes the user-facing adapter files (PEFT) into the directory, or null
   */
  public Path save(
      long step,
      String stateJson,
      Map<String, SafetensorsWriter.TensorData> params,
      Map<String, SafetensorsWriter.TensorData> optimizer,
      java.util.function.Consumer<Path> adapterWriter,
      int keep) {
    try {
      Files.createDirectories(root);
      removeStaleTemporaries();
      Path target = root.resolve(String.format("step-%08d", step));
      Path tmp = Files.createTempDirectory(root, ".step-" + step + "-");
      pause();
      SafetensorsWriter.write(tmp.resolve(PARAMS_FILE), params, Map.of());
      pause();
      SafetensorsWriter.write(tmp.resolve(OPTIMIZER_FILE), optimizer, Map.of());
      pause();
      if (adapterWriter != null) {
        adapterWriter.accept(tmp);
      }
      AtomicFiles.writeString(tmp.resolve(STATE_FILE), stateJson);
      pause();
      if (Files.exists(target)) {
        AtomicFiles.deleteTree(target);
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target);
      }
      syncDirectory(root);
      List<Path> all = list();
      for (int i = 0; i < all.size() - keep; i++) {
        AtomicFiles.deleteTree(all.get(i));
      }
      return target;
    } catch (IOException e) {
      throw new CheckpointException(
          root + ": cannot write checkpoint for step " + step + ": " + e.getMessage(), e);
    }
  }

  /** Loads a checkpoint directory. */
  public static Saved load(Path dir) {
    if (!Files.isRegularFile(dir.resolve(STATE_FILE))) {
      throw new CheckpointException(
          dir
              + ": not a training checkpoint (no "
              + STATE_FILE
              + "); pass --resume the --out"
              + " directory of an earlier run or one of its checkpoints/step-* directories");
    }
    JsonFields state = JsonFields.parse(dir.resolve(STATE_FILE));
    return new Saved(
        dir, state, readAll(dir.resolve(PARAMS_FILE)), readAll(dir.resolve(OPTIMIZER_FILE)));
  }

  private static Map<String, float[]> readAll(Path file) {
    Map<String, float[]> out = new java.util.LinkedHashMap<>();
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      for (var t : f.tensors()) {
        out.put(t.name(), f.floats(t.name()));
      }
    }
    return out;
  }

  private void removeStaleTemporaries() throws IOException {
    List<Path> stale = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(root)) {
      dirs.filter(d -> d.getFileName().toString().startsWith(".step-")).forEach(stale::add);
    }
    for (Path d : stale) {
      AtomicFiles.deleteTree(d);
    }
  }

  private static void pause() {
    long millis = Long.getLong(PAUSE_PROPERTY, 0L);
    if (millis > 0) {
      try {
        Thread.sleep(millis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static void syncDirectory(Path dir) {
    try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException ignored) {
      // Not every file system lets a directory be opened for fsync; the rename is still atomic.
    }
  }
}
