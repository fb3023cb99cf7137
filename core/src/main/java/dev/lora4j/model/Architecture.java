package dev.lora4j.model;

import dev.lora4j.io.CheckpointException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** A model family as a graph builder: it lists its weights and projections and builds logits. */
public interface Architecture {

  ModelConfig config();

  /** Every projection the forward pass calls through the hook, in forward order. */
  List<Projection> projections();

  /** Every other weight (embeddings, norms, head) by canonical checkpoint key, with its shape. */
  Map<String, long[]> otherWeights();

  /**
   * Builds the forward pass.
   *
   * @param inputIds token ids [B, T]
   * @return logits [B, T, V]
   */
  default Operand<TFloat32> logits(
      Ops tf, Operand<TInt32> inputIds, WeightSource weights, ProjectionHook projections) {
    return logits(tf, inputIds, weights, projections, null);
  }

  /**
   * As {@link #logits(Ops, Operand, WeightSource, ProjectionHook)}; with a cache, the rows are new
   * tokens after the cache's past (incremental decoding), and the cache collects their keys and
   * values.
   */
  Operand<TFloat32> logits(
      Ops tf,
      Operand<TInt32> inputIds,
      WeightSource weights,
      ProjectionHook projections,
      KeyValueCache cache);

  /** Every weight the checkpoint must hold (canonical keys), with its shape. */
  default Map<String, long[]> expectedWeights() {
    Map<String, long[]> all = new LinkedHashMap<>(otherWeights());
    for (Projection p : projections()) {
      all.put(p.weightKey(), p.weightShape());
      if (p.bias()) {
        all.put(p.biasKey(), new long[] {p.out()});
      }
    }
    return all;
  }

  default long parameterCount() {
    long total = 0;
    for (long[] shape : expectedWeights().values()) {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      total += n;
    }
    return total;
  }

  /** The graph builder for a config. */
  static Architecture of(ModelConfig config) {
    if (config instanceof Gpt2Config gpt2) {
      return new Gpt2(gpt2);
    }
    if (config instanceof LlamaConfig llama) {
      return new Llama(llama);
    }
    throw new CheckpointException("no architecture for " + config);
  }
}
