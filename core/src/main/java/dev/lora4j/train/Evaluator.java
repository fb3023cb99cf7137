package dev.lora4j.train;

import dev.lora4j.compile.CompiledModel;
import dev.lora4j.data.Sequence;
import java.util.List;

/** Validation loss: the token-weighted mean next-token loss over rows (no dropout). */
public final class Evaluator {
  private final CompiledModel model;

  public Evaluator(CompiledModel model) {
    this.model = model;
  }

  /** Mean loss over every scored token of the rows, in batches of batchSize. */
  public double meanLoss(List<Sequence> rows, int batchSize) {
    if (rows.isEmpty()) {
      return Double.NaN;
    }
    double lossSum = 0;
    double tokens = 0;
    for (int start = 0; start < rows.size(); start += batchSize) {
      List<Sequence> batch = rows.subList(start, Math.min(rows.size(), start + batchSize));
      int[][] ids = new int[batch.size()][];
      float[][] mask = new float[batch.size()][];
      double scored = 0;
      for (int i = 0; i < batch.size(); i++) {
        ids[i] = batch.get(i).ids();
        mask[i] = batch.get(i).lossMask();
        for (float w : mask[i]) {
          scored += w;
        }
      }
      lossSum += model.loss(ids, mask) * scored;
      tokens += scored;
    }
    return lossSum / Math.max(1, tokens);
  }
}
