package dev.lora4j.data;

import dev.lora4j.io.CheckpointException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Hugging Face's BPE model: a word is split into characters, then the adjacent pair with the lowest
 * merge rank is merged (leftmost first on ties) until no listed pair is left. Characters missing
 * from the vocabulary become {@code <0xNN>} byte tokens (byte fallback), else the unknown token,
 * else they are dropped, in that order of preference, as in the {@code tokenizers} crate.
 */
final class BpeModel {
  private static final int CACHED_WORDS = 1 << 16;
  private static final int CACHED_WORD_LENGTH = 64;

  private final Map<String, Integer> vocab;
  private final MergeTable merges;
  private final Integer unkId;
  private final boolean byteFallback;
  private final boolean fuseUnk;
  private final boolean ignoreMerges;
  private final int[] byteTokenIds; // <0xNN> ids, or null when some are missing
  private final Map<String, int[]> cache = new ConcurrentHashMap<>();

  /**
   * @param merges pairs in rank order, each two tokens of the vocabulary whose concatenation is in
   *     it too
   * @param unkToken null when the model has none
   */
  BpeModel(
      Map<String, Integer> vocab,
      List<String[]> merges,
      String unkToken,
      boolean byteFallback,
      boolean fuseUnk,
      boolean ignoreMerges,
      String source) {
    this.vocab = Map.copyOf(vocab);
    this.merges = new MergeTable(merges.size());
    for (int rank = 0; rank < merges.size(); rank++) {
      String[] pair = merges.get(rank);
      Integer left = vocab.get(pair[0]);
      Integer right = vocab.get(pair[1]);
      Integer merged = vocab.get(pair[0] + pair[1]);
      if (left == null || right == null || merged == null) {
        String missing = left == null ? pair[0] : right == null ? pair[1] : pair[0] + pair[1];
        throw new CheckpointException(
            source
                + ": merge "
                + (rank + 1)
                + " \""
                + pair[0]
                + " "
                + pair[1]
                + "\" uses \""
                + missing
                + "\", which is not in the vocabulary; the vocabulary and merges do not belong"
                + " together, re-download the tokenizer files");
      }
      this.merges.put(left, right, rank, merged);
    }
    if (unkToken != null && !vocab.containsKey(unkToken)) {
      throw new CheckpointException(
          source
              + ": unk_token \""
              + unkToken
              + "\" is not in the vocabulary; fix model.unk_token or re-download the tokenizer");
    }
    this.unkId = unkToken == null ? null : vocab.get(unkToken);
    this.byteFallback = byteFallback;
    this.fuseUnk = fuseUnk;
    this.ignoreMerges = ignoreMerges;
    int[] bytes = new int[256];
    for (int b = 0; b < 256 && bytes != null; b++) {
      Integer id = vocab.get(byteToken(b));
      if (id == null) {
        bytes = null;
      } else {
        bytes[b] = id;
      }
    }
    this.byteTokenIds = bytes;
  }

  static String byteToken(int b) {
    return String.format("<0x%02X>", b);
  }

  Map<String, Integer> vocab() {
    return vocab;
  }

  /** Appends the ids of one pre-tokenized word. */
  void tokenize(String word, IntList out) {
    if (word.isEmpty()) {
      return;
    }
    if (ignoreMerges) {
      Integer whole = vocab.get(word);
      if (whole != null) {
        out.add(whole);
        return;
      }
    }
    if (word.length() > CACHED_WORD_LENGTH) {
      out.addAll(merge(word));
      return;
    }
    int[] ids = cache.get(word);
    if (ids == null) {
      ids = merge(word);
      if (cache.size() >= CACHED_WORDS) {
        cache.clear();
      }
      cache.put(word, ids);
    }
    out.addAll(ids);
  }

  private int[] merge(String word) {
    IntList symbols = initialSymbols(word);
    int n = symbols.size();
    if (n < 2) {
      return symbols.toArray();
    }
    int[] id = symbols.toArray();
    int[] prev = new int[n];
    int[] next = new int[n];
    for (int i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    // Candidate merges keyed (rank << 32 | position): the lowest rank wins, then the leftmost.
    LongHeap candidates = new LongHeap(n);
    for (int i = 0; i + 1 < n; i++) {
      offer(candidates, id[i], id[i + 1], i);
    }
    while (!candidates.isEmpty()) {
      long top = candidates.poll();
      int rank = (int) (top >>> 32);
      int pos = (int) top;
      int right = next[pos];
      if (id[pos] < 0 || right < 0) {
        continue;
      }
      long merge = merges.get(id[pos], id[right]);
      if (merge < 0 || (int) (merge >>> 32) != rank) {
        continue; // stale: one side was merged since this candidate was queued
      }
      id[pos] = (int) merge;
      id[right] = -1;
      next[pos] = next[right];
      if (next[pos] >= 0) {
        prev[next[pos]] = pos;
      }
      if (prev[pos] >= 0) {
        offer(candidates, id[prev[pos]], id[pos], prev[pos]);
      }
      if (next[pos] >= 0) {
        offer(candidates, id[pos], id[next[pos]], pos);
      }
    }
    IntList result = new IntList(n);
    for (int i = 0; i >= 0; i = next[i]) {
      result.add(id[i]);
    }
    return result.toArray();
  }

  private void offer(LongHeap candidates, int left, int right, int pos) {
    long merge = merges.get(left, right);
    if (merge >= 0) {
      candidates.add((merge >>> 32) << 32 | pos);
    }
  }

  private IntList initialSymbols(String word) {
    IntList ids = new IntList(word.length());
    boolean lastWasUnk = false;
    for (int i = 0; i < word.length(); ) {
      int codePoint = word.codePointAt(i);
      int end = i + Character.charCount(codePoint);
      Integer id = vocab.get(word.substring(i, end));
      if (id != null) {
        ids.add(id);
        lastWasUnk = false;
      } else if (byteFallback && byteTokenIds != null) {
        for (byte b : word.substring(i, end).getBytes(StandardCharsets.UTF_8)) {
          ids.add(byteTokenIds[b & 0xFF]);
        }
        lastWasUnk = false;
      } else if (unkId != null) {
        if (!(fuseUnk && lastWasUnk)) {
          ids.add(unkId);
        }
        lastWasUnk = true;
      }
      i = end;
    }
    return ids;
  }

  /** Open-addressing map from a pair of ids to (rank << 32 | merged id); -1 when absent. */
  private static final class MergeTable {
    private final long[] keys;
    private final long[] values;
    private final int mask;

    MergeTable(int expected) {
      int capacity = Integer.highestOneBit(Math.max(4, expected * 2 + 1)) << 1;
      keys = new long[capacity];
      values = new long[capacity];
      mask = capacity - 1;
      Arrays.fill(keys, -1);
    }

    /** A pair listed twice keeps its last rank, as the tokenizers crate's map does. */
    void put(int left, int right, int rank, int merged) {
      long key = (long) left << 32 | right;
      int slot = slot(key);
      while (keys[slot] != -1 && keys[slot] != key) {
        slot = (slot + 1) & mask;
      }
      keys[slot] = key;
      values[slot] = (long) rank << 32 | merged;
    }

    long get(int left, int right) {
      long key = (long) left << 32 | right;
      for (int slot = slot(key); keys[slot] != -1; slot = (slot + 1) & mask) {
        if (keys[slot] == key) {
          return values[slot];
        }
      }
      return -1;
    }

    private int slot(long key) {
      long h = key * 0x9E3779B97F4A7C15L;
      return (int) (h ^ (h >>> 29)) & mask;
    }
  }

  /** A binary min-heap of longs. */
  private static final class LongHeap {
    private long[] items;
    private int size;

    LongHeap(int capacity) {
      items = new long[Math.max(4, capacity)];
    }

    boolean isEmpty() {
      return size == 0;
    }

    void add(long item) {
      if (size == items.length) {
        items = Arrays.copyOf(items, size * 2);
      }
      int i = size++;
      while (i > 0 && items[(i - 1) / 2] > item) {
        items[i] = items[(i - 1) / 2];
        i = (i - 1) / 2;
      }
      items[i] = item;
    }

    long poll() {
      long top = items[0];
      long last = items[--size];
      int i = 0;
      while (true) {
        int child = 2 * i + 1;
        if (child >= size) {
          break;
        }
        if (child + 1 < size && items[child + 1] < items[child]) {
          child++;
        }
        if (items[child] >= last) {
          break;
        }
        items[i] = items[child];
        i = child;
      }
      items[i] = last;
      return top;
    }
  }
}
