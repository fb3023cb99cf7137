package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --quantize-base on logits and merge, and the refusals that come with it. */
class QuantizeBaseCommandsTest {
  @TempDir Path tmp;

  @Test
  void mergeIntoAnNf4BaseNamesTheDriftAndWritesOnlyWithAllowDrift() {
    Path dir = LogitsCommandTest.conformance("llama-tiny");
    Path out = tmp.resolve("merged");
    String[] refused =
        PlanCommandTest.capture(
            () ->
                Lora4j.run(
                    "merge",
                    "--model",
                    dir.toString(),
                    "--adapter",
                    dir.resolve("adapter").toString(),
                    "--out",
                    out.toString(),
                    "--quantize-base",
                    "nf4"));
    assertEquals("1", refused[0], refused[2]);
    assertTrue(
        refused[2].contains("stored as nf4")
            && refused[2].contains("max abs")
            && refused[2].contains("--allow-drift"),
        refused[2]);
    assertFalse(Files.exists(out), "nothing may be written without --allow-drift");
    String[] written =
        PlanCommandTest.capture(
            () ->
                Lora4j.run(
                    "merge",
                    "--model",
                    dir.toString(),
                    "--adapter",
                    dir.resolve("adapter").toString(),
                    "--out",
                    out.toString(),
                    "--quantize-base",
                    "nf4",
                    "--double-quant",
                    "--requantize",
                    "--allow-drift"));
    assertEquals("0", written[0], written[2]);
    assertTrue(written[1].contains("nf4-dq and re-quantizing"), written[1]);
    assertTrue(Files.isRegularFile(out.resolve("model.safetensors")));
  }

  @Test
  void logitsOnAQuantizedBaseSayWhatWasQuantized() {
    Path dir = LogitsCommandTest.conformance("gpt2-tiny");
    String[] run =
        PlanCommandTest.capture(
            () ->
                Lora4j.run(
                    "logits",
                    "--model",
                    dir.toString(),
                    "--input",
                    dir.resolve("inputs.json").toString(),
                    "--out",
                    tmp.resolve("logits.safetensors").toString(),
                    "--quantize-base",
                    "int8"));
    assertEquals("0", run[0], run[2]);
    assertTrue(run[2].contains("8 projection weights stored as int8"), run[2]);
  }

  @Test
  void fullFineTuningAndStrayDoubleQuantAreRefused() {
    Path dir = LogitsCommandTest.conformance("llama-tiny");
    String[] full =
        PlanCommandTest.capture(
            () ->
                Lora4j.run(
                    "train",
                    "--model",
                    dir.toString(),
                    "--data",
                    dir.resolve("inputs.json").toString(),
                    "--out",
                    tmp.resolve("run").toString(),
                    "--steps",
                    "1",
                    "--full",
                    "--quantize-base",
                    "nf4"));
    assertEquals("2", full[0], full[2]);
    assertTrue(full[2].contains("--full trains every base weight"), full[2]);
    String[] stray =
        PlanCommandTest.capture(
            () ->
                Lora4j.run(
                    "eval",
                    "--model",
                    dir.toString(),
                    "--data",
                    dir.resolve("inputs.json").toString(),
                    "--double-quant"));
    assertEquals("1", stray[0], stray[2]);
    assertTrue(stray[2].contains("add --quantize-base nf4"), stray[2]);
  }
}
