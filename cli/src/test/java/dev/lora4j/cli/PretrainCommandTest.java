package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** pretrain makes a Hugging Face checkpoint the other commands use as it is. */
class PretrainCommandTest {
  @TempDir Path tmp;

  /** 40 KB of the shipped fortunes as a text file in dir. */
  static Path text(Path dir) throws Exception {
    Path file = dir.resolve("text.txt");
    try (InputStream in =
        new GZIPInputStream(Files.newInputStream(Path.of("../samples/data/fortunes.txt.gz")))) {
      Files.write(file, in.readNBytes(40_000));
    }
    return file;
  }

  /** A 1-layer, d 32, 32-position base with a 300-token BPE vocabulary; returns the exit code. */
  static int pretrainTiny(Path data, Path out, String modelType, int steps) {
    return Lora4j.run(
        "pretrain",
        "--data",
        data.toString(),
        "--out",
        out.toString(),
        "--model-type",
        modelType,
        "--layers",
        "1",
        "--hidden",
        "32",
        "--heads",
        "2",
        "--positions",
        "32",
        "--seq-len",
        "32",
        "--vocab-size",
        "300",
        "--steps",
        String.valueOf(steps),
        "--batch-size",
        "4");
  }

  @Test
  void pretrainedGpt2AndLlamaCheckpointsWorkWithEvalAndGenerate() throws Exception {
    Path data = text(tmp);
    // What an interrupted run leaves behind: a hidden temporary directory, never a half model.
    Path stale = Files.createDirectories(tmp.resolve(".gpt2-interrupted"));
    Files.writeString(stale.resolve("model.safetensors"), "half written");
    for (String type : new String[] {"gpt2", "llama"}) {
      Path out = tmp.resolve(type);
      assertEquals(0, pretrainTiny(data, out, type, 4));
      for (String file :
          new String[] {"config.json", "model.safetensors", "vocab.json", "merges.txt"}) {
        assertTrue(Files.exists(out.resolve(file)), type + " " + file);
      }
      assertEquals(
          0,
          Lora4j.run(
              "eval", "--model", out.toString(), "--data", data.toString(), "--seq-len", "32"));
      assertEquals(
          0,
          Lora4j.run(
              "generate",
              "--model",
              out.toString(),
              "--prompt",
              "A wise man",
              "--max-tokens",
              "5"));
    }
    assertTrue(Files.notExists(stale), "the next run removes the interrupted run's leftovers");
    // The same --out again is refused (nothing is lost) unless --force.
    assertEquals(1, pretrainTiny(data, tmp.resolve("gpt2"), "gpt2", 2));
    assertTrue(Files.exists(tmp.resolve("gpt2/model.safetensors")));
  }

  @Test
  void impossibleShapesAreNamedByTheirFlagBeforeAnythingIsBuilt() throws Exception {
    Path data = text(tmp);
    String[][] cases = {
      {"--heads", "0", "--heads must be at least 1, was 0"},
      {"--layers", "0", "--layers must be at least 1, was 0"},
      {"--kv-heads", "4", "--heads (6) must be a multiple of --kv-heads (4)"},
      {"--hidden", "100", "--hidden (100) must be divisible by --heads (6)"},
    };
    for (String[] c : cases) {
      String[] r =
          PlanCommandTest.capture(
              () ->
                  Lora4j.run(
                      "pretrain",
                      "--data",
                      data.toString(),
                      "--out",
                      tmp.resolve("out").toString(),
                      "--model-type",
                      "llama", // --heads defaults to 6
                      c[0],
                      c[1]));
      assertEquals("1", r[0], c[0] + ": " + r[1] + r[2]);
      assertTrue(r[2].contains(c[2]), r[2]);
    }
  }
}
