package dev.lora4j.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.model.Gpt2Config;
import dev.lora4j.model.RandomCheckpoint;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loading a 124M-parameter GPT-2-shaped checkpoint keeps the weights out of the Java heap: they go
 * from the memory-mapped file into TensorFlow's memory, one tensor at a time.
 */
class LargeCheckpointMemoryTest {
  @TempDir Path tmp;

  @Test
  void loadingGpt2SmallHoldsLessThanOneExtraCopyOfTheWeightsInTheHeap() throws Exception {
    Path dir = tmp.resolve("gpt2-small-random");
    RandomCheckpoint.write(
        dir, new Gpt2Config(50257, 1024, 768, 12, 12, 3072, 1e-5, "gelu_new", true, "float32"), 1);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process process =
        new ProcessBuilder(
                List.of(
                    java,
                    "-Xmx2g",
                    "-cp",
                    System.getProperty("java.class.path"),
                    LoadMemoryProbe.class.getName(),
                    dir.toString()))
            .redirectErrorStream(false)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, process.waitFor(), output);
    System.out.println("gpt2-small (124M) load: " + output.trim());
    double weights = field(output, "weights_mb");
    double peakHeap = field(output, "peak_heap_mb");
    assertTrue(weights > 470, "the checkpoint should hold ~475 MB of F32 weights: " + output);
    assertTrue(peakHeap < weights, "peak heap must stay below one copy of the weights: " + output);
  }

  private static double field(String json, String name) throws IOException {
    Matcher m = Pattern.compile("\"" + name + "\": ([0-9.]+)").matcher(json);
    if (!m.find()) {
      throw new IOException("no " + name + " in " + json);
    }
    return Double.parseDouble(m.group(1));
  }
}
