package dev.lora4j.compile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The gradients training uses (the loss's backward pass by hand down to the scored rows, the head
 * weight's own term, hand-written norm and GELU gradients) equal TensorFlow's autodiff of the loss
 * itself, for every base weight (full fine-tuning: a tied head on GPT-2, an untied one on Llama and
 * Qwen2) and for the adapters, with a partial loss mask.
 */
class HandGradientsEqualAutodiffTest {

  @ParameterizedTest(name = "{0}: every gradient equals autodiff of the loss")
  @ValueSource(strings = {"gpt2-tiny", "llama-tiny", "qwen2-tiny"})
  void gradientsEqualAutodiff(String name) {
    Path dir = Conformance.dir(name);
    int[][] ids = Conformance.ids(dir.resolve("train/batch.json"));
    try (Conformance.AdaptedModel adapted =
        Conformance.withAdapter(
            dir,
            CompileOptions.defaults()
                .withTrainableBase(
                    true))) { // non-zero B, so the adapters' gradients are not trivial
      CompiledModel model = adapted.model();
      List<WeightVariable> vars = new ArrayList<>(model.baseWeights().values());
      vars.addAll(model.trainableVariables());
      List<Operand<TFloat32>> used = model.gradientsOf(vars);
      List<Operand<?>> variables = new ArrayList<>();
      for (WeightVariable v : vars) {
        variables.add(v.variable());
      }
      var autodiff = model.ops().gradients(model.lossOp(), variables);
      int time = ids[0].length;
      float[] mask = new float[ids.length * (time - 1)];
      for (int i = 0; i < mask.length; i++) {
        mask[i] = i % 3 == 0 ? 0f : 1f; // a third of the positions unscored
      }
      Session.Runner runner = model.session().runner();
      try (TInt32 input = CompiledModel.idsTensor(ids);
          TFloat32 maskTensor =
              TFloat32.tensorOf(
                  Shape.of(ids.length, time - 1), DataBuffers.of(mask, true, false))) {
        runner
            .feed(model.inputIdsPlaceholder(), input)
            .feed(model.lossMaskPlaceholder(), maskTensor);
        for (int i = 0; i < vars.size(); i++) {
          runner.fetch(used.get(i));
          Output<?> reference = autodiff.dy(i);
          runner.fetch(reference);
        }
        try (Result result = runner.run()) {
          double largest = 0;
          for (int i = 0; i < vars.size(); i++) {
            float[] got = HostTensors.toArray((TFloat32) result.get(2 * i));
            float[] want = HostTensors.toArray((TFloat32) result.get(2 * i + 1));
            assertEquals(want.length, got.length, vars.get(i).name());
            double scale = 0;
            for (float w : want) {
              scale = Math.max(scale, Math.abs(w));
            }
            for (int j = 0; j < want.length; j++) {
              assertEquals(
                  want[j],
                  got[j],
                  1e-5 + 1e-4 * scale,
                  vars.get(i).name() + " at " + j + " (largest |gradient| " + scale + ")");
            }
            largest = Math.max(largest, scale);
          }
          assertTrue(largest > 0, "the gradients must not all vanish");
        }
      }
    }
  }
}
