package dev.lora4j.memory;

import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.model.Checkpoint;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Run in its own JVM: loads a checkpoint into a graph, runs one forward pass, and prints one JSON
 * line with the weights' bytes, the peak Java heap and the peak RSS.
 */
public final class LoadMemoryProbe {
  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0]);
    System.gc();
    long heapBefore = heapUsed();
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      pool.resetPeakUsage();
    }
    long weightBytes;
    long start = System.nanoTime();
    try (Checkpoint checkpoint = Checkpoint.open(dir);
        CompiledModel model =
            ModelCompiler.compile(checkpoint, List.of(), CompileOptions.defaults())) {
      weightBytes = checkpoint.weightBytes();
      model.logits(new int[][] {{1, 2, 3, 4, 5, 6, 7, 8}});
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    long peakHeap = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        peakHeap += pool.getPeakUsage().getUsed();
      }
    }
    System.out.printf(
        "{\"weights_mb\": %.1f, \"heap_before_mb\": %.1f, \"peak_heap_mb\": %.1f,"
            + " \"peak_rss_mb\": %.1f, \"load_and_forward_s\": %.2f}%n",
        weightBytes / 1048576.0,
        heapBefore / 1048576.0,
        peakHeap / 1048576.0,
        peakRssKb() / 1024.0,
        seconds);
  }

  private static long heapUsed() {
    long used = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        used += pool.getUsage().getUsed();
      }
    }
    return used;
  }

  /** VmHWM from /proc/self/status (Linux), in kB; -1 elsewhere. */
  static long peakRssKb() throws IOException {
    Path status = Path.of("/proc/self/status");
    if (!Files.exists(status)) {
      return -1;
    }
    for (String line : Files.readAllLines(status)) {
      if (line.startsWith("VmHWM:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }
}
