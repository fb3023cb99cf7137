package dev.lora4j.data;

import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * Text to token ids and back, giving the ids a Hugging Face tokenizer of the same checkpoint gives.
 * Special tokens written in the text (such as {@code <|endoftext|>} or {@code <|im_start|>}) become
 * their ids, as in Hugging Face; nothing is added around the text.
 */
public interface Tokenizer {
  /** The ids of text; no BOS or EOS is added. */
  int[] encode(String text);

  /** The text of ids; throws IllegalArgumentException for an id outside the vocabulary. */
  String decode(int[] ids);

  /** One more than the largest id, added tokens included ({@code len(tokenizer)} in Python). */
  int vocabSize();

  OptionalInt eosTokenId();

  OptionalInt bosTokenId();

  /**
   * Writes HF tokenizer files (vocab.json + merges.txt and/or tokenizer.json,
   * tokenizer_config.json, special_tokens_map.json) into a checkpoint dir, atomically per file.
   */
  void save(Path dir);

  /**
   * The tokenizer of a Hugging Face checkpoint directory: tokenizer.json (byte-level BPE as in
   * GPT-2, Qwen2 and Llama 3, or BPE with byte fallback as in Llama 2 and Mistral), else GPT-2's
   * vocab.json + merges.txt. Throws CheckpointException naming the directory and the files looked
   * for when it has none.
   */
  static Tokenizer forCheckpoint(Path dir) {
    return TokenizerFiles.read(dir);
  }

  /**
   * The checkpoint's tokenizer, or null when the directory has no tokenizer files (pre-tokenized
   * data needs none).
   */
  static Tokenizer forCheckpointIfPresent(Path dir) {
    return java.nio.file.Files.exists(dir.resolve(TokenizerFiles.TOKENIZER_JSON))
            || java.nio.file.Files.exists(dir.resolve(TokenizerFiles.VOCAB_JSON))
        ? TokenizerFiles.read(dir)
        : null;
  }

  /** The real GPT-2 vocabulary: 50257 tokens, {@code <|endoftext|>} = 50256. */
  static Tokenizer gpt2() {
    return Gpt2Tokenizer.instance();
  }
}
