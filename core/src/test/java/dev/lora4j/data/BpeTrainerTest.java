package dev.lora4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A trained vocabulary is written as GPT-2 tokenizer files and reads back losslessly. */
class BpeTrainerTest {
  @TempDir Path tmp;

  @Test
  void trainedTokenizerRoundTripsAndCompresses() throws Exception {
    String text;
    try (var in =
        new java.util.zip.GZIPInputStream(
            Files.newInputStream(Path.of("../samples/data/kjv.txt.gz")))) {
      text = new String(in.readNBytes(100_000), java.nio.charset.StandardCharsets.UTF_8);
    }
    text = text.substring(0, text.lastIndexOf('\n') + 1);
    Tokenizer tokenizer = BpeTrainer.train(List.of(text), 400, 256, tmp);
    assertEquals(400, tokenizer.vocabSize());
    assertEquals(399, tokenizer.eosTokenId().getAsInt());
    assertTrue(Files.exists(tmp.resolve("vocab.json")) && Files.exists(tmp.resolve("merges.txt")));
    int[] ids = tokenizer.encode(text);
    assertTrue(
        ids.length < text.length() / 2, ids.length + " tokens for " + text.length() + " chars");
    assertEquals(text, tokenizer.decode(ids));
    String unseen = "Zebra quartz, ünïcødé and emoji 🚀 still encode byte by byte.";
    assertEquals(unseen, tokenizer.decode(tokenizer.encode(unseen)));
    int[] withEos = tokenizer.encode("end" + BpeTrainer.END_OF_TEXT);
    assertEquals(399, withEos[withEos.length - 1]);
  }

  @Test
  void trainingIsDeterministic() throws Exception {
    String text = Files.readString(Path.of("src/test/resources/data/sample-text.txt"));
    BpeTrainer.train(List.of(text), 300, 256, tmp.resolve("a"));
    BpeTrainer.train(List.of(text), 300, 256, tmp.resolve("b"));
    assertEquals(
        Files.readString(tmp.resolve("a/merges.txt")),
        Files.readString(tmp.resolve("b/merges.txt")));
  }
}
