package dev.lora4j.compile;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lora4j.Conformance;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The training loss is the masked mean of −log softmax(logits)[next id] over positions 0..T-2,
 * computed here in float64 from the model's own logits: the last position of each sequence (which
 * the loss's head also reads, with weight 0) never counts, whatever its logits.
 */
class MaskedLossTest {
  @Test
  void lossIsTheMaskedMeanOfNextTokenCrossEntropy() {
    Path dir = Conformance.dir("gpt2-tiny");
    int[][] ids = Conformance.ids(dir.resolve("train/batch.json"));
    int batch = ids.length;
    int time = ids[0].length;
    float[][] mask = new float[batch][time - 1];
    for (int b = 0; b < batch; b++) {
      for (int t = 0; t < time - 1; t++) {
        int i = b * (time - 1) + t;
        mask[b][t] = i % 4 == 1 ? 0f : (i % 4 == 2 ? 0.5f : 1f);
      }
    }
    try (Conformance.AdaptedModel adapted =
        Conformance.withAdapter(dir, CompileOptions.defaults())) {
      CompiledModel model = adapted.model();
      CompiledModel.Logits logits = model.logits(ids);
      int vocab = logits.vocab();
      double total = 0;
      double count = 0;
      for (int b = 0; b < batch; b++) {
        for (int t = 0; t < time - 1; t++) {
          int row = (b * time + t) * vocab;
          double max = Double.NEGATIVE_INFINITY;
          for (int v = 0; v < vocab; v++) {
            max = Math.max(max, logits.values()[row + v]);
          }
          double sum = 0;
          for (int v = 0; v < vocab; v++) {
            sum += Math.exp(logits.values()[row + v] - max);
          }
          double crossEntropy = Math.log(sum) + max - logits.values()[row + ids[b][t + 1]];
          double weight = mask[b][t];
          total += weight * crossEntropy;
          count += weight;
        }
      }
      float loss = model.loss(ids, mask);
      assertEquals(total / count, loss, 1e-5 * Math.max(1, total / count));
    }
  }
}
