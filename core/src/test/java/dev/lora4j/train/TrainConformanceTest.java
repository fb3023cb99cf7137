package dev.lora4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.adapter.LoraFactors;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.compile.AdapterModule;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.io.JsonFields;
import dev.lora4j.io.SafetensorsFile;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonPrimitive;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Three AdamW steps on each conformance case equal the reference: losses and gradient norms within
 * 1e-5 relative, adapters after steps 1 and 3 within 1e-5 relative L2, initial gradients 1e-4.
 */
class TrainConformanceTest {
  static final List<String> CASES = Conformance.CASES;

  @ParameterizedTest(name = "{0}: three AdamW steps match the reference")
  @FieldSource("CASES")
  void threeAdamWStepsMatchTheReference(String name) {
    Path dir = Conformance.dir(name);
    Path train = dir.resolve("train");
    JsonFields spec = JsonFields.parse(train.resolve("spec.json"));
    JsonFields expected = JsonFields.parse(train.resolve("expected_loss.json"));
    double[] losses = doubles(expected.get("loss"));
    double[] norms = doubles(expected.get("grad_norm"));
    double[] betas = doubles(spec.get("betas"));
    Double maxGradNorm = spec.has("max_grad_norm") ? spec.requireDouble("max_grad_norm") : null;
    int[][] ids = Conformance.ids(train.resolve("batch.json"));
    float[][] mask = ones(ids.length, ids[0].length - 1);
    PeftAdapter init = PeftAdapter.load(train.resolve("adapter_init"));
    try (Checkpoint checkpoint = Checkpoint.open(dir);
        CompiledModel model =
            ModelCompiler.compile(
                checkpoint, init.specsFor(checkpoint.architecture()), CompileOptions.defaults())) {
      init.applyTo(model);
      List<float[]> g0 = gradients(model, ids);
      List<float[]> r0 = referenceGrads(model, train.resolve("grads_init.safetensors"));
      assertTrue(relativeL2(g0, r0) <= 1e-4, "initial gradients");
      OptimizerConfig adamW =
          OptimizerConfig.adamW(spec.requireDouble("lr"), spec.requireDouble("weight_decay"))
              .withBetas(betas[0], betas[1])
              .withEps(spec.requireDouble("eps"));
      TrainingGraph training =
          new TrainingGraph(
              model,
              model.trainableVariables(),
              adamW,
              ScheduleConfig.constant(),
              3,
              maxGradNorm,
              1);
      for (int k = 0; k < 3; k++) {
        TrainingGraph.StepResult result =
            training.step(List.<int[][]>of(ids), List.<float[][]>of(mask), 0);
        assertRelative(losses[k], result.loss(), 1e-5, name + " loss before step " + (k + 1));
        assertRelative(norms[k], result.gradNorm(), 1e-5, name + " grad norm at step " + (k + 1));
        assertEquals(k + 1, training.step());
        if (k == 0) {
          assertAdapterMatches(
              model, PeftAdapter.load(train.resolve("adapter_step1")), name + " step 1");
        }
      }
      assertEquals(3, training.stepVariableValue());
      assertAdapterMatches(
          model, PeftAdapter.load(train.resolve("adapter_step3")), name + " step 3");
      assertRelative(losses[3], model.loss(ids), 1e-5, name + " loss after step 3");
    }
  }

  static void assertRelative(double want, double got, double tolerance, String what) {
    double rel = Math.abs(got - want) / Math.abs(want);
    assertTrue(
        rel <= tolerance, what + ": want " + want + ", got " + got + " (relative " + rel + ")");
  }

  static void assertAdapterMatches(CompiledModel model, PeftAdapter want, String what) {
    List<float[]> got = new ArrayList<>();
    List<float[]> expected = new ArrayList<>();
    for (LoraFactors f : want.modules().values()) {
      AdapterModule.Part part = model.adapters().get(f.module()).parts().get(0);
      got.add(model.read(part.a()));
      got.add(model.read(part.b()));
      expected.add(f.a());
      expected.add(f.b());
    }
    double rel = relativeL2(got, expected);
    assertTrue(rel <= 1e-5, what + ": relative L2 " + rel);
  }

  static List<float[]> gradients(CompiledModel model, int[][] ids) {
    List<Operand<TFloat32>> grads = model.gradients();
    List<float[]> out = new ArrayList<>();
    try (TInt32 input = CompiledModel.idsTensor(ids)) {
      var runner = model.session().runner().feed(model.inputIdsPlaceholder(), input);
      for (Operand<TFloat32> g : grads) {
        runner.fetch(g);
      }
      try (Result r = runner.run()) {
        for (int i = 0; i < grads.size(); i++) {
          TFloat32 t = (TFloat32) r.get(i);
          float[] values = new float[(int) t.size()];
          t.asRawTensor().data().asFloats().read(values);
          out.add(values);
        }
      }
    }
    return out;
  }

  /** grads_init in the order of the model's trainable variables. */
  static List<float[]> referenceGrads(CompiledModel model, Path file) {
    List<float[]> out = new ArrayList<>();
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      for (var v : model.trainableVariables()) {
        out.add(f.floats("base_model.model." + v.name()));
      }
    }
    return out;
  }

  static double relativeL2(List<float[]> got, List<float[]> want) {
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < want.size(); i++) {
      for (int j = 0; j < want.get(i).length; j++) {
        double d = got.get(i)[j] - want.get(i)[j];
        diff += d * d;
        norm += (double) want.get(i)[j] * want.get(i)[j];
      }
    }
    return Math.sqrt(diff) / Math.sqrt(norm);
  }

  static float[][] ones(int rows, int cols) {
    float[][] m = new float[rows][cols];
    for (float[] row : m) {
      java.util.Arrays.fill(row, 1f);
    }
    return m;
  }

  static double[] doubles(JsonElement array) {
    JsonArray a = (JsonArray) array;
    double[] out = new double[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = Double.parseDouble(((JsonPrimitive) a.get(i)).getContent());
    }
    return out;
  }
}
