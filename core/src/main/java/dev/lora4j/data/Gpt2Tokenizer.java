package dev.lora4j.data;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import dev.lora4j.io.AtomicFiles;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The real GPT-2 vocabulary, from jtokkit's {@code r50k_base}: the same 50,256 byte sequences at
 * the same ids as OpenAI's encoder.json, plus {@code <|endoftext|>} = 50256.
 *
 * <p>Why jtokkit: it is pure Java (MIT) and ships the vocabulary inside its jar. DJL's binding of
 * Hugging Face's Rust tokenizers was rejected: it works offline on linux-x86_64, but probes the EC2
 * metadata address and sends telemetry unless OPT_OUT_TRACKING is set, downloads its native library
 * on platforms its 18 MB jar lacks, and ships no GPT-2 vocabulary. Checkpoint tokenizer files are
 * read by {@link BpeTokenizer}, which the tests check against this class.
 */
final class Gpt2Tokenizer implements Tokenizer {
  static final String END_OF_TEXT = "<|endoftext|>";
  static final int END_OF_TEXT_ID = 50256;
  private static final int VOCAB_SIZE = 50257;
  private static final int MODEL_MAX_LENGTH = 1024;

  private static final class Holder {
    static final Gpt2Tokenizer INSTANCE = new Gpt2Tokenizer();
  }

  private final Encoding encoding =
      Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);

  private Gpt2Tokenizer() {}

  static Gpt2Tokenizer instance() {
    return Holder.INSTANCE;
  }

  /** Like Hugging Face, {@code <|endoftext|>} written in the text becomes 50256. */
  @Override
  public int[] encode(String text) {
    IntList ids = new IntList(text.length() / 3 + 4);
    int from = 0;
    for (int at = text.indexOf(END_OF_TEXT); at >= 0; at = text.indexOf(END_OF_TEXT, from)) {
      ids.addAll(encoding.encodeOrdinary(text.substring(from, at)).toArray());
      ids.add(END_OF_TEXT_ID);
      from = at + END_OF_TEXT.length();
    }
    ids.addAll(encoding.encodeOrdinary(text.substring(from)).toArray());
    return ids.toArray();
  }

  @Override
  public String decode(int[] ids) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(ids.length * 4);
    IntArrayList run = new IntArrayList();
    for (int id : ids) {
      if (id < 0 || id >= VOCAB_SIZE) {
        throw new IllegalArgumentException(
            "token id "
                + id
                + " is not in the GPT-2 vocabulary (ids 0 to "
                + (VOCAB_SIZE - 1)
                + ")");
      }
      if (id == END_OF_TEXT_ID) {
        bytes.writeBytes(encoding.decodeBytes(run));
        bytes.writeBytes(END_OF_TEXT.getBytes(StandardCharsets.US_ASCII));
        run.clear();
      } else {
        run.add(id);
      }
    }
    bytes.writeBytes(encoding.decodeBytes(run));
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Override
  public int vocabSize() {
    return VOCAB_SIZE;
  }

  @Override
  public OptionalInt eosTokenId() {
    return OptionalInt.of(END_OF_TEXT_ID);
  }

  /** GPT2Tokenizer's bos_token is {@code <|endoftext|>} too. */
  @Override
  public OptionalInt bosTokenId() {
    return OptionalInt.of(END_OF_TEXT_ID);
  }

  /**
   * Writes vocab.json and merges.txt byte for byte as OpenAI's encoder.json and vocab.bpe (the
   * files of Hugging Face's gpt2 repository), with configs that make GPT2Tokenizer read them.
   */
  @Override
  public void save(Path dir) {
    List<byte[]> tokens = new ArrayList<>(END_OF_TEXT_ID);
    IntArrayList single = new IntArrayList(1);
    for (int id = 0; id < END_OF_TEXT_ID; id++) {
      single.clear();
      single.add(id);
      tokens.add(encoding.decodeBytes(single));
    }
    AtomicFiles.writeString(dir.resolve(TokenizerFiles.VOCAB_JSON), vocabJson(tokens));
    AtomicFiles.writeString(dir.resolve(TokenizerFiles.MERGES_TXT), mergesTxt(tokens));
    AtomicFiles.writeString(
        dir.resolve(TokenizerFiles.TOKENIZER_CONFIG),
        TokenizerFiles.tokenizerConfig(
            "GPT2Tokenizer", END_OF_TEXT, END_OF_TEXT, END_OF_TEXT, false, MODEL_MAX_LENGTH));
    AtomicFiles.writeString(
        dir.resolve(TokenizerFiles.SPECIAL_TOKENS_MAP),
        TokenizerFiles.specialTokensMap(END_OF_TEXT, END_OF_TEXT, END_OF_TEXT));
  }

  /** In id order, formatted as Python's {@code json.dumps} (ASCII escapes, ", " and ": "). */
  private static String vocabJson(List<byte[]> tokens) {
    StringBuilder json = new StringBuilder(1 << 20).append('{');
    for (int id = 0; id < tokens.size(); id++) {
      appendPythonJsonString(json, ByteLevel.encode(tokens.get(id)));
      json.append(": ").append(id).append(", ");
    }
    appendPythonJsonString(json, END_OF_TEXT);
    return json.append(": ").append(END_OF_TEXT_ID).append('}').toString();
  }

  private static void appendPythonJsonString(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c >= ' ' && c <= '~') {
            out.append(c);
          } else {
            out.append(String.format("\\u%04x", (int) c));
          }
        }
      }
    }
    out.append('"');
  }

  /**
   * tiktoken keeps ranks, not merges; the merge that made the token of rank r is the split that BPE
   * with only the ranks below r leaves, as Hugging Face's tiktoken converter derives it.
   */
  private static String mergesTxt(List<byte[]> tokens) {
    Map<String, Integer> rankOf = new HashMap<>(tokens.size() * 2);
    for (int rank = 0; rank < tokens.size(); rank++) {
      rankOf.put(latin1(tokens.get(rank)), rank);
    }
    StringBuilder merges = new StringBuilder(1 << 19).append("#version: 0.2\n");
    for (int rank = 256; rank < tokens.size(); rank++) {
      List<String> parts = bytePairSplit(tokens.get(rank), rankOf, rank);
      if (parts.size() != 2) {
        throw new IllegalStateException("r50k_base rank " + rank + " splits into " + parts);
      }
      merges.append(ByteLevel.encode(parts.get(0).getBytes(StandardCharsets.ISO_8859_1)));
      merges.append(' ');
      merges.append(ByteLevel.encode(parts.get(1).getBytes(StandardCharsets.ISO_8859_1)));
      merges.append('\n');
    }
    return merges.toString();
  }

  /** tiktoken's byte-pair merge of one token's bytes, using ranks below maxRank only. */
  private static List<String> bytePairSplit(
      byte[] token, Map<String, Integer> rankOf, int maxRank) {
    List<String> parts = new ArrayList<>(token.length);
    for (byte b : token) {
      parts.add(latin1(new byte[] {b}));
    }
    while (true) {
      int best = -1;
      int bestRank = maxRank;
      for (int i = 0; i + 1 < parts.size(); i++) {
        Integer rank = rankOf.get(parts.get(i) + parts.get(i + 1));
        if (rank != null && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) {
        return parts;
      }
      parts.set(best, parts.get(best) + parts.remove(best + 1));
    }
  }

  /** Bytes as a string of chars 0-255, for hashing byte sequences. */
  private static String latin1(byte[] bytes) {
    return new String(bytes, StandardCharsets.ISO_8859_1);
  }

  @Override
  public String toString() {
    return "GPT-2 tokenizer (jtokkit r50k_base, 50257 tokens)";
  }
}
