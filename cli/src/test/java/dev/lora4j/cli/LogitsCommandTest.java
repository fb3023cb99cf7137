package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.io.SafetensorsFile;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `lora4j logits` end to end on the vendored conformance checkpoints. */
class LogitsCommandTest {
  @TempDir Path tmp;

  static Path conformance(String name) {
    String root = System.getProperty("lora4j.conformance");
    return Path.of(root).resolve(name);
  }

  private static double maxAbsDiff(float[] a, float[] b) {
    assertEquals(a.length, b.length);
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs(a[i] - b[i]));
    }
    return max;
  }

  @Test
  void writesLogitsWithAdapterThatMatchTheReference() {
    Path dir = conformance("llama-tiny");
    Path out = tmp.resolve("logits.safetensors");
    int code =
        Lora4j.run(
            "logits",
            "--model",
            dir.toString(),
            "--input",
            dir.resolve("inputs.json").toString(),
            "--adapter",
            dir.resolve("adapter").toString(),
            "--out",
            out.toString());
    assertEquals(0, code);
    try (SafetensorsFile got = SafetensorsFile.open(out);
        SafetensorsFile want = SafetensorsFile.open(dir.resolve("logits_adapter.safetensors"))) {
      assertEquals(want.info("logits").shape().length, 3);
      assertTrue(java.util.Arrays.equals(want.info("logits").shape(), got.info("logits").shape()));
      assertTrue(maxAbsDiff(got.floats("logits"), want.floats("logits")) <= 1e-4);
    }
  }

  @Test
  void mixedBatchRowsGetTheirOwnAdapterOrTheBase() throws Exception {
    Path dir = conformance("llama-tiny");
    String ids = Files.readString(dir.resolve("inputs.json"));
    Path input = tmp.resolve("mixed.json");
    // inputs.json holds two rows: the first runs with the adapter, the second with the base.
    Files.writeString(
        input,
        ids.substring(0, ids.lastIndexOf('}')) + ", \"adapter_names\": [\"qv\", \"__base__\"]}");
    Path out = tmp.resolve("mixed.safetensors");
    int code =
        Lora4j.run(
            "logits",
            "--model",
            dir.toString(),
            "--input",
            input.toString(),
            "--adapter",
            "qv=" + dir.resolve("adapter"),
            "--adapter",
            "late=" + dir.resolve("train/adapter_step3"),
            "--out",
            out.toString());
    assertEquals(0, code);
    try (SafetensorsFile got = SafetensorsFile.open(out);
        SafetensorsFile withAdapter =
            SafetensorsFile.open(dir.resolve("logits_adapter.safetensors"));
        SafetensorsFile base = SafetensorsFile.open(dir.resolve("logits.safetensors"))) {
      float[] all = got.floats("logits");
      int half = all.length / 2;
      float[] row0 = java.util.Arrays.copyOfRange(all, 0, half);
      float[] row1 = java.util.Arrays.copyOfRange(all, half, all.length);
      assertTrue(
          maxAbsDiff(row0, java.util.Arrays.copyOfRange(withAdapter.floats("logits"), 0, half))
              <= 1e-4);
      assertTrue(
          maxAbsDiff(row1, java.util.Arrays.copyOfRange(base.floats("logits"), half, all.length))
              <= 1e-4);
    }
    // Named adapters without adapter_names in the input: exit 1, nothing written.
    Path noNames = tmp.resolve("none.safetensors");
    assertEquals(
        1,
        Lora4j.run(
            "logits",
            "--model",
            dir.toString(),
            "--input",
            dir.resolve("inputs.json").toString(),
            "--adapter",
            "qv=" + dir.resolve("adapter"),
            "--out",
            noNames.toString()));
    assertTrue(!Files.exists(noNames));
  }

  @Test
  void missingRequiredOptionIsAUsageErrorWithExitCode2() {
    assertEquals(2, Lora4j.run("logits", "--model", "x"));
  }

  @Test
  void badModelDirectoryFailsWithExitCode1AndOneLine() throws Exception {
    Path input = tmp.resolve("in.json");
    Files.writeString(input, "{\"input_ids\": [[1, 2]]}");
    PrintStream saved = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code;
    try {
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      code =
          Lora4j.run(
              "logits",
              "--model",
              tmp.toString(),
              "--input",
              input.toString(),
              "--out",
              tmp.resolve("o.safetensors").toString());
    } finally {
      System.setErr(saved);
    }
    assertEquals(1, code);
    String text = err.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("no config.json"), text);
    assertTrue(Files.notExists(tmp.resolve("o.safetensors")));
  }

  @Test
  void nonIntegerTokenIdIsNamedWithItsPosition() throws Exception {
    Path input = tmp.resolve("in.json");
    Files.writeString(input, "{\"input_ids\": [[1, \"a\"]]}");
    var e =
        org.junit.jupiter.api.Assertions.assertThrows(
            RuntimeException.class, () -> LogitsCommand.readIds(input));
    assertTrue(e.getMessage().contains("input_ids[0][1] must be an integer token id"));
  }
}
