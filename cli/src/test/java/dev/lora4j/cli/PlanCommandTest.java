package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `lora4j plan`: the dry run reads only config.json. */
class PlanCommandTest {
  @TempDir Path tmp;

  /** Runs a command and captures (exit code, stdout, stderr). */
  static String[] capture(Supplier<Integer> command) {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    int code;
    try {
      System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
      code = command.get();
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
    return new String[] {
      String.valueOf(code), o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8)
    };
  }

  @Test
  void aSeqLenBeyondTheModelsPositionsIsADryRunError() {
    String model = LogitsCommandTest.conformance("gpt2-tiny").toString(); // n_positions 64
    String[] r =
        capture(
            () -> Lora4j.run("plan", "--model", model, "--target", "c_attn", "--seq-len", "65"));
    assertEquals("1", r[0], r[1] + r[2]);
    assertTrue(
        r[2].contains("seq_len 65 is longer than this gpt2 model's 64 positions (n_positions"),
        r[2]);
    // Without --seq-len the estimate uses the model's 64 positions, not 128.
    r = capture(() -> Lora4j.run("plan", "--model", model, "--target", "c_attn"));
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains("at batch 8 x seq 64"), r[1]);
  }

  @Test
  void gpt3SizedConfigWithQvSlicesAtRank4GivesThePapersTable15Count() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("gpt3"));
    Files.writeString(
        dir.resolve("config.json"),
        "{\"model_type\": \"gpt2\", \"vocab_size\": 50257, \"n_positions\": 2048,"
            + " \"n_embd\": 12288, \"n_layer\": 96, \"n_head\": 96}");
    String[] r =
        capture(
            () ->
                Lora4j.run(
                    "plan",
                    "--model",
                    dir.toString(),
                    "--target",
                    "c_attn[q,v]",
                    "--rank",
                    "4",
                    "--json"));
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains("\"trainable_params\":18874368"), r[1]);
    assertTrue(r[1].contains("\"name\":\"transformer.h.95.attn.c_attn\""), r[1]);
  }

  @Test
  void llamaConfigDryRunCountsQandV() throws Exception {
    Path dir = LogitsCommandTest.conformance("llama-tiny");
    String[] r =
        capture(
            () ->
                Lora4j.run(
                    "plan",
                    "--model",
                    dir.toString(),
                    "--target",
                    "q_proj",
                    "--target",
                    "v_proj",
                    "--rank",
                    "4",
                    "--json"));
    assertEquals("0", r[0], r[2]);
    // per layer: q (4*64 + 64*4) + v (4*64 + 32*4) = 512 + 384; 2 layers
    assertTrue(r[1].contains("\"trainable_params\":1792"), r[1]);
  }

  @Test
  void aTargetMatchingNothingListsTheClosestNames() {
    Path dir = LogitsCommandTest.conformance("gpt2-tiny");
    String[] r = capture(() -> Lora4j.run("plan", "--model", dir.toString(), "--target", "q_proj"));
    assertEquals("1", r[0]);
    assertTrue(r[2].contains("q_proj"), r[2]);
    assertTrue(r[2].contains("c_attn"), r[2]);
  }
}
