package dev.lora4j.data;

import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.CheckpointException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonObject;

/**
 * Trains a GPT-2-style byte-level BPE vocabulary on text and writes it as Hugging Face GPT-2
 * tokenizer files (vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json), so a
 * model pretrained here ships the same files a downloaded GPT-2 checkpoint does. Words are split
 * with GPT-2's pattern, then the most frequent adjacent pair is merged until the vocabulary is full
 * (ties broken by the pair's text, so the result is deterministic).
 */
public final class BpeTrainer {
  public static final String END_OF_TEXT = "<|endoftext|>";

  private BpeTrainer() {}

  /**
   * @param vocabSize the total vocabulary: 256 byte tokens, the merges, and {@code <|endoftext|>}
   * @return the tokenizer read back from the written files
   */
  public static Tokenizer train(Iterable<String> texts, int vocabSize, int maxLength, Path dir) {
    if (vocabSize < 258) {
      throw new IllegalArgumentException(
          "vocabulary size must be at least 258 (256 bytes, one merge, <|endoftext|>), was "
              + vocabSize);
    }
    Map<String, Integer> wordCounts = new HashMap<>();
    for (String text : texts) {
      Matcher m = PreTokenizer.GPT2_WORDS.matcher(text);
      while (m.find()) {
        wordCounts.merge(m.group(), 1, Integer::sum);
      }
    }
    // Each distinct word as a sequence of symbol ids; symbols 0..255 are its UTF-8 bytes.
    List<int[]> words = new ArrayList<>();
    List<Integer> counts = new ArrayList<>();
    for (Map.Entry<String, Integer> e : wordCounts.entrySet()) {
      byte[] bytes = e.getKey().getBytes(StandardCharsets.UTF_8);
      int[] symbols = new int[bytes.length];
      for (int i = 0; i < bytes.length; i++) {
        symbols[i] = bytes[i] & 0xff;
      }
      words.add(symbols);
      counts.add(e.getValue());
    }
    List<byte[]> tokens = new ArrayList<>();
    for (int b = 0; b < 256; b++) {
      tokens.add(new byte[] {(byte) b});
    }
    List<int[]> merges = new ArrayList<>();
    int targetMerges = vocabSize - 257;
    while (merges.size() < targetMerges) {
      Map<Long, Long> pairCounts = new HashMap<>();
      for (int w = 0; w < words.size(); w++) {
        int[] s = words.get(w);
        for (int i = 0; i + 1 < s.length; i++) {
          pairCounts.merge(((long) s[i] << 32) | s[i + 1], (long) counts.get(w), Long::sum);
        }
      }
      long best = -1;
      long bestCount = 0;
      String bestText = null;
      for (Map.Entry<Long, Long> e : pairCounts.entrySet()) {
        long count = e.getValue();
        if (count < bestCount) {
          continue;
        }
        String text = pairText(tokens, e.getKey());
        if (count > bestCount || text.compareTo(bestText) < 0) {
          best = e.getKey();
          bestCount = count;
          bestText = text;
        }
      }
      if (best < 0 || bestCount < 2) {
        break; // nothing left worth merging
      }
      int left = (int) (best >>> 32);
      int right = (int) best;
      int merged = tokens.size();
      byte[] joined = new byte[tokens.get(left).length + tokens.get(right).length];
      System.arraycopy(tokens.get(left), 0, joined, 0, tokens.get(left).length);
      System.arraycopy(
          tokens.get(right), 0, joined, tokens.get(left).length, tokens.get(right).length);
      tokens.add(joined);
      merges.add(new int[] {left, right});
      for (int w = 0; w < words.size(); w++) {
        words.set(w, mergePair(words.get(w), left, right, merged));
      }
    }
    write(dir, tokens, merges, maxLength);
    return Tokenizer.forCheckpoint(dir);
  }

  private static String pairText(List<byte[]> tokens, long pair) {
    return ByteLevel.encode(tokens.get((int) (pair >>> 32)))
        + " "
        + ByteLevel.encode(tokens.get((int) pair));
  }

  private static int[] mergePair(int[] symbols, int left, int right, int merged) {
    int n = 0;
    for (int i = 0; i + 1 < symbols.length; i++) {
      if (symbols[i] == left && symbols[i + 1] == right) {
        n++;
        i++;
      }
    }
    if (n == 0) {
      return symbols;
    }
    int[] out = new int[symbols.length - n];
    int j = 0;
    for (int i = 0; i < symbols.length; i++) {
      if (i + 1 < symbols.length && symbols[i] == left && symbols[i + 1] == right) {
        out[j++] = merged;
        i++;
      } else {
        out[j++] = symbols[i];
      }
    }
    return out;
  }

  private static void write(Path dir, List<byte[]> tokens, List<int[]> merges, int maxLength) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new CheckpointException(dir + ": cannot create: " + e.getMessage(), e);
    }
    Map<String, JsonElement> vocab = new LinkedHashMap<>();
    for (int id = 0; id < tokens.size(); id++) {
      vocab.put(ByteLevel.encode(tokens.get(id)), JsonElementKt.JsonPrimitive(id));
    }
    vocab.put(END_OF_TEXT, JsonElementKt.JsonPrimitive(tokens.size()));
    StringBuilder mergesTxt = new StringBuilder("#version: 0.2\n");
    for (int[] m : merges) {
      mergesTxt
          .append(ByteLevel.encode(tokens.get(m[0])))
          .append(' ')
          .append(ByteLevel.encode(tokens.get(m[1])))
          .append('\n');
    }
    AtomicFiles.writeString(dir.resolve("vocab.json"), new JsonObject(vocab).toString());
    AtomicFiles.writeString(dir.resolve("merges.txt"), mergesTxt.toString());
    AtomicFiles.writeString(
        dir.resolve("tokenizer_config.json"),
        TokenizerFiles.tokenizerConfig(
            "GPT2Tokenizer", END_OF_TEXT, END_OF_TEXT, END_OF_TEXT, false, maxLength));
    AtomicFiles.writeString(
        dir.resolve("special_tokens_map.json"),
        TokenizerFiles.specialTokensMap(END_OF_TEXT, END_OF_TEXT, END_OF_TEXT));
  }
}
