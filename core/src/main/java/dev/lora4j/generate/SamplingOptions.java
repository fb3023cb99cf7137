package dev.lora4j.generate;

/**
 * How the next token is chosen.
 *
 * @param temperature 0 for greedy decoding; otherwise logits are divided by it before sampling
 * @param topK keep the k most likely tokens (0 = all)
 * @param topP keep the smallest set whose probability reaches p (1 = all)
 */
public record SamplingOptions(
    int maxNewTokens, double temperature, int topK, double topP, long seed) {

  public static SamplingOptions greedy(int maxNewTokens) {
    return new SamplingOptions(maxNewTokens, 0, 0, 1, 0);
  }

  public void validate() {
    if (maxNewTokens < 1) {
      throw new IllegalArgumentException("--max-tokens must be >= 1, was " + maxNewTokens);
    }
    if (!(temperature >= 0)) {
      throw new IllegalArgumentException(
          "--temperature must be >= 0 (0 = greedy), was " + temperature);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("--top-k must be >= 0 (0 = off), was " + topK);
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("--top-p must be in (0, 1], was " + topP);
    }
  }
}
