package dev.lora4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A training process killed with SIGKILL in the middle of writing a checkpoint leaves the previous
 * checkpoint loadable, and the run resumes from it.
 */
class KilledCheckpointTest {
  @TempDir Path tmp;

  @Test
  void sigkillDuringACheckpointWriteKeepsThePreviousOneLoadable() throws Exception {
    Path out = tmp.resolve("run");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child =
        new ProcessBuilder(
                java,
                "-D" + CheckpointStore.PAUSE_PROPERTY + "=500",
                "-cp",
                System.getProperty("java.class.path"),
                TrainerRuns.class.getName(),
                out.toString())
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    try (BufferedReader lines =
        new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = lines.readLine()) != null && !line.equals("saved 2")) {
        // wait for the first complete checkpoint
      }
      assertEquals("saved 2", line, "the child must write its first checkpoint");
      // The next checkpoint (step 4) is written slowly: kill it once its temp dir exists.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!hasTemporary(out) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(hasTemporary(out), "the second checkpoint write must have started");
      Thread.sleep(600); // inside the write: some files are there, others not
      child.destroyForcibly(); // SIGKILL on Linux
      child.waitFor(30, TimeUnit.SECONDS);
    }
    CheckpointStore store = new CheckpointStore(out);
    assertTrue(hasTemporary(out), "the half-written checkpoint is still there, hidden");
    assertEquals(List.of(out.resolve("checkpoints/step-00000002")), store.list());
    CheckpointStore.Saved saved = CheckpointStore.load(store.latest());
    assertEquals(2, saved.state().requireInt("step"));
    assertFalse(saved.params().isEmpty());

    TrainingReport resumed = TrainerRuns.run(20, out, out, List.of());
    assertEquals(20, resumed.steps());
    assertEquals(20, resumed.losses().size());
    assertFalse(hasTemporary(out), "the next write cleans the half-written one up");
  }

  private static boolean hasTemporary(Path out) throws Exception {
    Path root = out.resolve("checkpoints");
    if (!Files.isDirectory(root)) {
      return false;
    }
    try (Stream<Path> entries = Files.list(root)) {
      return entries.anyMatch(p -> p.getFileName().toString().startsWith(".step-"));
    }
  }
}
