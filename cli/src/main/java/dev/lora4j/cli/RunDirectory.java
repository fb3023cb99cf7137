package dev.lora4j.cli;

import dev.lora4j.io.CheckpointException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;

/**
 * A run's --out directory, held with an OS file lock so two processes never write the same run, and
 * refused when it already holds a run that the user did not ask to resume.
 */
final class RunDirectory implements AutoCloseable {
  static final String LOCK_FILE = ".lora4j.lock";
  private final FileChannel channel;
  private final FileLock lock;

  private RunDirectory(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  static RunDirectory open(Path out, boolean resume) throws IOException {
    if (Files.exists(out) && !Files.isDirectory(out)) {
      throw new CheckpointException(out + ": exists and is not a directory; choose another --out");
    }
    Files.createDirectories(out);
    FileChannel channel =
        FileChannel.open(
            out.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      channel.close();
      throw new CheckpointException(
          out
              + ": in use by another lora4j process (it holds "
              + LOCK_FILE
              + "); wait for it to"
              + " finish or choose another --out");
    }
    boolean hasRun;
    Path checkpoints = out.resolve("checkpoints");
    if (Files.isDirectory(checkpoints)) {
      try (Stream<Path> entries = Files.list(checkpoints)) {
        hasRun = entries.anyMatch(p -> p.getFileName().toString().startsWith("step-"));
      }
    } else {
      hasRun = false;
    }
    if (hasRun && !resume) {
      lock.release();
      channel.close();
      throw new CheckpointException(
          out
              + ": already holds a training run ("
              + checkpoints
              + "); pass --resume to continue"
              + " it, or choose another --out");
    }
    return new RunDirectory(channel, lock);
  }

  @Override
  public void close() throws IOException {
    lock.release();
    channel.close();
  }
}
