package dev.lora4j.train;

import dev.lora4j.compile.CompiledModel;
import dev.lora4j.data.Sequence;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** Validation loss: the token-weighted mean next-token loss over rows (no dropout). */
public final class Evaluator {
  private final CompiledModel model;
  private final Operand<TFloat32> scored;

  public Evaluator(CompiledModel model) {
    this.model = model;
    this.scored =
        model
            .ops()
            .withSubScope("eval")
            .sum(model.lossMaskPlaceholder(), model.ops().constant(new int[] {0, 1}));
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
      for (int i = 0; i < batch.size(); i++) {
        ids[i] = batch.get(i).ids();
        mask[i] = batch.get(i).lossMask();
      }
      model.checkInputs(ids);
      try (TInt32 input = CompiledModel.idsTensor(ids);
          TFloat32 maskTensor = TrainingGraph.maskTensor(mask);
          Result r =
              model
                  .session()
                  .runner()
                  .feed(model.inputIdsPlaceholder(), input)
                  .feed(model.lossMaskPlaceholder(), maskTensor)
                  .fetch(model.lossOp())
                  .fetch(scored)
                  .run()) {
        double n = ((TFloat32) r.get(1)).getFloat();
        lossSum += ((TFloat32) r.get(0)).getFloat() * n;
        tokens += n;
      }
    }
    return lossSum / Math.max(1, tokens);
  }
}
