package dev.lora4j.data;

import java.nio.file.Path;
import java.util.OptionalInt;

/** One id per character (its code), so that expected rows can be written by hand. */
final class CharTokenizer implements Tokenizer {
  private final OptionalInt eos;
  private final OptionalInt bos;

  CharTokenizer(OptionalInt eos, OptionalInt bos) {
    this.eos = eos;
    this.bos = bos;
  }

  /** EOS = 1, no BOS, like GPT-2's single separator. */
  static CharTokenizer withEos() {
    return new CharTokenizer(OptionalInt.of(1), OptionalInt.empty());
  }

  @Override
  public int[] encode(String text) {
    return text.chars().toArray();
  }

  @Override
  public String decode(int[] ids) {
    return new String(ids, 0, ids.length);
  }

  @Override
  public int vocabSize() {
    return 128;
  }

  @Override
  public OptionalInt eosTokenId() {
    return eos;
  }

  @Override
  public OptionalInt bosTokenId() {
    return bos;
  }

  @Override
  public void save(Path dir) {
    throw new UnsupportedOperationException();
  }
}
