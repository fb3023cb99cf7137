package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.adapter.LoraFactors;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.io.JsonFields;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `lora4j train` on pre-tokenized rows reproduces the reference's three AdamW steps. */
class TrainCommandTest {
  @TempDir Path tmp;

  /** Writes the case's training batch as pre-tokenized JSONL rows. */
  static Path tokenizedRows(Path caseDir, Path tmp) throws Exception {
    int[][] ids = LogitsCommand.readIds(caseDir.resolve("train/batch.json"));
    List<String> lines = new ArrayList<>();
    for (int[] row : ids) {
      lines.add("{\"input_ids\": " + java.util.Arrays.toString(row) + "}");
    }
    Path file = tmp.resolve("rows.jsonl");
    Files.write(file, lines);
    return file;
  }

  @Test
  void threeStepsFromTheInitialAdapterEqualTheReference() throws Exception {
    Path dir = LogitsCommandTest.conformance("gpt2-tiny");
    Path data = tokenizedRows(dir, tmp);
    int seqLen = LogitsCommand.readIds(dir.resolve("train/batch.json"))[0].length;
    Path out = tmp.resolve("run");
    int code =
        Lora4j.run(
            "train",
            "--model",
            dir.toString(),
            "--data",
            data.toString(),
            "--init-adapter",
            dir.resolve("train/adapter_init").toString(),
            "--out",
            out.toString(),
            "--steps",
            "3",
            "--batch-size",
            "2",
            "--seq-len",
            String.valueOf(seqLen),
            "--lr",
            "2e-3",
            "--weight-decay",
            "0.05",
            "--betas",
            "0.9,0.999",
            "--eps",
            "1e-8",
            "--schedule",
            "constant",
            "--no-shuffle",
            "--validation-split",
            "0");
    assertEquals(0, code);
    PeftAdapter got = PeftAdapter.load(out.resolve("adapter"));
    PeftAdapter want = PeftAdapter.load(dir.resolve("train/adapter_step3"));
    double diff = 0;
    double norm = 0;
    for (LoraFactors w : want.modules().values()) {
      LoraFactors g = got.modules().get(w.module());
      for (int i = 0; i < w.a().length; i++) {
        diff += Math.pow(g.a()[i] - w.a()[i], 2);
        norm += Math.pow(w.a()[i], 2);
      }
      for (int i = 0; i < w.b().length; i++) {
        diff += Math.pow(g.b()[i] - w.b()[i], 2);
        norm += Math.pow(w.b()[i], 2);
      }
    }
    assertTrue(Math.sqrt(diff / norm) <= 1e-5, "relative L2 " + Math.sqrt(diff / norm));
    JsonFields report = JsonFields.parse(out.resolve("report.json"));
    assertEquals(3, report.requireInt("steps"));
    assertTrue(Files.isDirectory(out.resolve("checkpoints/step-00000003")));
    // The same --out without --resume is refused; nothing is lost.
    assertEquals(
        1,
        Lora4j.run(
            "train",
            "--model",
            dir.toString(),
            "--data",
            data.toString(),
            "--out",
            out.toString(),
            "--steps",
            "1",
            "--target",
            "c_attn",
            "--seq-len",
            String.valueOf(seqLen)));
    assertTrue(Files.isDirectory(out.resolve("checkpoints/step-00000003")));
  }

  @Test
  void aSeqLenBeyondThePositionTableIsAnErrorNamingTheConfigField() throws Exception {
    Path dir = LogitsCommandTest.conformance("gpt2-tiny"); // n_positions 64
    Path data = tokenizedRows(dir, tmp);
    for (String command : List.of("train", "eval")) {
      List<String> args =
          new ArrayList<>(List.of(command, "--model", dir.toString(), "--data", data.toString()));
      if (command.equals("train")) {
        args.addAll(
            List.of("--out", tmp.resolve("run").toString(), "--target", "c_attn", "--steps", "1"));
      }
      args.addAll(List.of("--seq-len", "65"));
      String[] r = PlanCommandTest.capture(() -> Lora4j.run(args.toArray(String[]::new)));
      assertEquals("1", r[0], command + ": " + r[1] + r[2]);
      assertTrue(
          r[2].contains(
              "seq_len 65 is longer than this gpt2 model's 64 positions (n_positions in"
                  + " config.json); set seq_len to at most 64"),
          command + ": " + r[2]);
    }
    assertTrue(!Files.exists(tmp.resolve("run/checkpoints")), "nothing written for a refused run");
  }

  @Test
  void promptCompletionRowsWithOtherFieldNamesTrainWithTheFieldFlags() throws Exception {
    // A tiny base with a tokenizer, as `pretrain` writes it.
    Path base = tmp.resolve("base");
    assertEquals(
        0, PretrainCommandTest.pretrainTiny(PretrainCommandTest.text(tmp), base, "gpt2", 1));
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      lines.add(
          "{\"question\": \"What is "
              + i
              + " plus one?\", \"answer\": \" It is "
              + (i + 1)
              + ", as any fortune teller would say.\"}");
    }
    Path data = tmp.resolve("qa.jsonl");
    Files.write(data, lines);
    List<String> common =
        List.of("--model", base.toString(), "--data", data.toString(), "--seq-len", "32");
    // Without the field flags the loader names them as the fix, and both commands have them.
    List<String> plain = new ArrayList<>(List.of("eval"));
    plain.addAll(common);
    String[] r = PlanCommandTest.capture(() -> Lora4j.run(plain.toArray(String[]::new)));
    assertEquals("1", r[0], r[1] + r[2]);
    assertTrue(r[2].contains("--prompt-field, --completion-field"), r[2]);
    for (String command : List.of("train", "eval")) {
      String help = PlanCommandTest.capture(() -> Lora4j.run(command, "--help"))[1];
      assertTrue(help.contains("--prompt-field") && help.contains("--completion-field"), help);
      List<String> args = new ArrayList<>(List.of(command));
      args.addAll(common);
      args.addAll(List.of("--prompt-field", "question", "--completion-field", "answer"));
      if (command.equals("train")) {
        args.addAll(
            List.of(
                "--out", tmp.resolve("qa-run").toString(), "--target", "c_attn", "--steps", "1"));
      }
      r = PlanCommandTest.capture(() -> Lora4j.run(args.toArray(String[]::new)));
      assertEquals("0", r[0], command + ": " + r[2]);
    }
    List<String> csv = new ArrayList<>(List.of("eval"));
    csv.addAll(common);
    csv.addAll(List.of("--format", "csv"));
    String[] bad = PlanCommandTest.capture(() -> Lora4j.run(csv.toArray(String[]::new)));
    assertEquals("1", bad[0], bad[2]);
    assertTrue(
        bad[2].contains(
            "--format takes text, jsonl-text, prompt-completion or tokenized, got 'csv'"),
        bad[2]);
  }

  @Test
  void anUnknownInitIsRefusedNotReplacedByTheDefault() throws Exception {
    Path dir = LogitsCommandTest.conformance("gpt2-tiny");
    String[] r =
        PlanCommandTest.capture(
            () ->
                Lora4j.run(
                    "train",
                    "--model",
                    dir.toString(),
                    "--data",
                    "missing.txt",
                    "--out",
                    tmp.resolve("run").toString(),
                    "--target",
                    "c_attn",
                    "--steps",
                    "1",
                    "--init",
                    "xavier"));
    assertEquals("1", r[0], r[1] + r[2]);
    assertTrue(r[2].contains("--init must be kaiming or gaussian, was 'xavier'"), r[2]);
    // A target or rank the model cannot take is refused before the (missing) data is read.
    for (String[] c :
        new String[][] {
          {"--target", "q_proj", "matches no projection of this model"},
          {"--rank", "100", "rank must be between 1 and 48 for transformer.h.0.attn.c_attn"},
        }) {
      List<String> args =
          new ArrayList<>(
              List.of(
                  "train",
                  "--model",
                  dir.toString(),
                  "--data",
                  "missing.txt",
                  "--out",
                  tmp.resolve("run2").toString(),
                  "--steps",
                  "1",
                  "--seq-len",
                  "32"));
      if (!c[0].equals("--target")) {
        args.addAll(List.of("--target", "c_attn"));
      }
      args.addAll(List.of(c[0], c[1]));
      String[] e = PlanCommandTest.capture(() -> Lora4j.run(args.toArray(String[]::new)));
      assertEquals("1", e[0], e[1] + e[2]);
      assertTrue(e[2].contains(c[2]) && !e[2].contains("missing.txt"), e[2]);
    }
  }

  @Test
  void aSliceAdapterTrainedFurtherStaysASliceAdapter() throws Exception {
    Path dir = LogitsCommandTest.conformance("gpt2-tiny");
    Path data = tokenizedRows(dir, tmp);
    String seqLen =
        String.valueOf(LogitsCommand.readIds(dir.resolve("train/batch.json"))[0].length);
    List<String> common =
        List.of(
            "--model",
            dir.toString(),
            "--data",
            data.toString(),
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--seq-len",
            seqLen,
            "--lr",
            "1e-2",
            "--validation-split",
            "0");
    List<String> first =
        new ArrayList<>(
            List.of(
                "train",
                "--out",
                tmp.resolve("a").toString(),
                "--target",
                "c_attn[q,v]",
                "--rank",
                "2",
                "--alpha",
                "4"));
    first.addAll(common);
    assertEquals(0, Lora4j.run(first.toArray(String[]::new)));
    List<String> second =
        new ArrayList<>(
            List.of(
                "train",
                "--out",
                tmp.resolve("b").toString(),
                "--init-adapter",
                tmp.resolve("a/adapter").toString()));
    second.addAll(common);
    assertEquals(0, Lora4j.run(second.toArray(String[]::new)));
    PeftAdapter before = PeftAdapter.load(tmp.resolve("a/adapter"));
    PeftAdapter after = PeftAdapter.load(tmp.resolve("b/adapter"));
    assertEquals(before.slices(), after.slices());
    assertEquals(List.of("q", "v"), after.slices().get("transformer.h.0.attn.c_attn"));
    int d = 48;
    for (LoraFactors f : after.modules().values()) {
      assertEquals(4, f.rank(), "rank 2 per slice, saved as rank 4 for PEFT");
      boolean changed = false;
      for (int row = 0; row < 3 * d; row++) {
        for (int c = 0; c < 4; c++) {
          float value = f.b()[row * 4 + c];
          boolean inBlock = (row < d && c < 2) || (row >= 2 * d && c >= 2);
          if (!inBlock) {
            assertEquals(0f, value, f.module() + " B[" + row + "][" + c + "] stays zero");
          }
          changed |= value != before.modules().get(f.module()).b()[row * 4 + c];
        }
      }
      assertTrue(changed, f.module() + ": the second run trained the q and v blocks");
    }
  }
}
