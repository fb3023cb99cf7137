package dev.lora4j.generate;

import dev.lora4j.compile.CompiledModel;
import java.util.Arrays;
import java.util.OptionalInt;
import java.util.SplittableRandom;

/**
 * Autoregressive generation on a compiled model: greedy, or temperature sampling with top-k and
 * top-p. While the text fits the model's positions, keys and values are cached (each new token runs
 * the model on itself only); past that, each token reruns the model on the last max-positions
 * tokens.
 */
public final class Generator {
  private Generator() {}

  /** Returns the prompt followed by the new tokens (stopping early at stopId if given). */
  public static int[] generate(
      CompiledModel model, int[] prompt, SamplingOptions options, OptionalInt stopId) {
    options.validate();
    if (prompt.length == 0) {
      throw new IllegalArgumentException("the prompt is empty; give at least one token");
    }
    int window = model.config().maxPositions();
    int vocab = model.config().vocabSize();
    SplittableRandom random = new SplittableRandom(options.seed());
    int[] tokens = Arrays.copyOf(prompt, prompt.length + options.maxNewTokens());
    int length = prompt.length;
    // While the text fits the positions, keys and values of the text so far are cached and each
    // new token runs the model on itself; past that, the model reruns the last window.
    CompiledModel.CachedDecoder cached = tokens.length <= window ? model.cachedDecoder() : null;
    for (int i = 0; i < options.maxNewTokens(); i++) {
      float[] logits =
          cached != null
              ? cached.next(i == 0 ? prompt : new int[] {tokens[length - 1]})
              : model.lastLogits(
                  new int[][] {Arrays.copyOfRange(tokens, Math.max(0, length - window), length)});
      int next = choose(logits, vocab, options, random);
      tokens[length++] = next;
      if (stopId.isPresent() && next == stopId.getAsInt()) {
        break;
      }
    }
    return Arrays.copyOf(tokens, length);
  }

  static int choose(float[] logits, int vocab, SamplingOptions options, SplittableRandom random) {
    if (options.temperature() == 0) {
      int best = 0;
      for (int v = 1; v < vocab; v++) {
        if (logits[v] > logits[best]) {
          best = v;
        }
      }
      return best;
    }
    Integer[] order = new Integer[vocab];
    for (int v = 0; v < vocab; v++) {
      order[v] = v;
    }
    Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
    int keep = options.topK() > 0 ? Math.min(options.topK(), vocab) : vocab;
    double max = logits[order[0]] / options.temperature();
    double[] probs = new double[keep];
    double sum = 0;
    for (int i = 0; i < keep; i++) {
      probs[i] = Math.exp(logits[order[i]] / options.temperature() - max);
      sum += probs[i];
    }
    // top-p: the smallest prefix of the sorted tokens whose probability reaches p.
    double cumulative = 0;
    int cut = keep;
    for (int i = 0; i < keep; i++) {
      cumulative += probs[i] / sum;
      if (cumulative >= options.topP()) {
        cut = i + 1;
        break;
      }
    }
    double total = 0;
    for (int i = 0; i < cut; i++) {
      total += probs[i];
    }
    double r = random.nextDouble() * total;
    for (int i = 0; i < cut; i++) {
      r -= probs[i];
      if (r <= 0) {
        return order[i];
      }
    }
    return order[cut - 1];
  }
}
