package dev.lora4j.compile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.model.Projection;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** The base is frozen by construction, and a q,v-slice adapter leaves the k slice alone. */
class FrozenBaseAndSlicesTest {

  @ParameterizedTest(name = "{0}: gradient steps on the adapters leave every base weight bitwise")
  @ValueSource(strings = {"gpt2-tiny", "llama-tiny", "qwen2-tiny"})
  void gradientStepsLeaveBaseBitwiseUnchanged(String name) {
    Path dir = Conformance.dir(name);
    int[][] ids = Conformance.ids(dir.resolve("train/batch.json"));
    try (Conformance.AdaptedModel adapted =
        Conformance.withAdapter(dir, CompileOptions.defaults())) {
      CompiledModel model = adapted.model();
      Map<String, float[]> before = new LinkedHashMap<>();
      for (WeightVariable w : model.baseWeights().values()) {
        before.put(w.name(), model.read(w));
      }
      List<WeightVariable> trainable = model.trainableVariables();
      float[] adapterBefore = model.read(trainable.get(0));
      Op step = sgdStep(model, 0.05f);
      float lossBefore = model.loss(ids);
      for (int i = 0; i < 3; i++) {
        try (TInt32 input = CompiledModel.idsTensor(ids)) {
          model
              .session()
              .runner()
              .feed(model.inputIdsPlaceholder(), input)
              .addTarget(step)
              .run()
              .close();
        }
      }
      assertTrue(model.loss(ids) < lossBefore, "the adapter steps must lower the loss");
      assertFalse(Arrays.equals(adapterBefore, model.read(trainable.get(0))));
      for (WeightVariable w : model.baseWeights().values()) {
        assertArrayEquals(before.get(w.name()), model.read(w), w.name() + " changed");
      }
      for (WeightVariable w : trainable) {
        assertTrue(w.name().contains(".lora_A.") || w.name().contains(".lora_B."), w.name());
      }
    }
  }

  /** Plain SGD over the model's own gradient list (the adapters only). */
  private static Op sgdStep(CompiledModel model, float lr) {
    Ops tf = model.ops();
    List<Op> updates = new ArrayList<>();
    List<Operand<TFloat32>> grads = model.gradients();
    List<WeightVariable> vars = model.trainableVariables();
    for (int i = 0; i < vars.size(); i++) {
      updates.add(
          tf.train.applyGradientDescent(vars.get(i).variable(), tf.constant(lr), grads.get(i)));
    }
    return tf.withControlDependencies(updates).noOp();
  }

  @Test
  void qvSliceAdapterNeverChangesTheKeySliceAndHasNoKeyParameters() {
    Path dir = Conformance.dir("gpt2-tiny");
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    List<LoraModuleSpec> specs = new ArrayList<>();
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      for (Projection p : checkpoint.architecture().projections()) {
        if (p.name().endsWith("c_attn")) {
          specs.add(
              new LoraModuleSpec(
                  p.name(),
                  4,
                  8,
                  2,
                  0,
                  dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM,
                  List.of("q", "v")));
        }
      }
      try (CompiledModel sliced =
          ModelCompiler.compile(checkpoint, specs, CompileOptions.defaults())) {
        Random random = new Random(7);
        for (WeightVariable w : sliced.trainableVariables()) {
          float[] values = new float[(int) w.numel()];
          for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
          }
          sliced.assign(w, values);
        }
        int d = checkpoint.config().hiddenSize();
        // 2 layers x (q, v) x (A [4, d], B [d, 4]): nothing for k.
        assertEquals(2 * 2 * 2 * 4 * d, sliced.trainableParameterCount());
        assertTrue(sliced.trainableVariables().stream().noneMatch(w -> w.name().contains(".k.")));
        for (String module :
            List.of("transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn")) {
          // The base projection's output inside the adapted graph, then the adapted output.
          float[] want = fetch(sliced.session(), sliced, module + "_base", ids);
          float[] got = fetch(sliced.session(), sliced, module, ids);
          int rows = want.length / (3 * d);
          boolean qChanged = false;
          boolean vChanged = false;
          for (int r = 0; r < rows; r++) {
            for (int c = 0; c < 3 * d; c++) {
              int i = r * 3 * d + c;
              if (c >= d && c < 2 * d) {
                assertEquals(
                    Float.floatToRawIntBits(want[i]),
                    Float.floatToRawIntBits(got[i]),
                    module + " k column " + c + " changed");
              } else if (c < d) {
                qChanged |= want[i] != got[i];
              } else {
                vChanged |= want[i] != got[i];
              }
            }
          }
          assertTrue(qChanged && vChanged, "the q and v slices must change");
        }
      }
    }
  }

  private static float[] fetch(Session session, CompiledModel model, String op, int[][] ids) {
    try (TInt32 input = CompiledModel.idsTensor(ids);
        Result result = session.runner().feed(model.inputIdsPlaceholder(), input).fetch(op).run()) {
      return HostTensors.toArray((TFloat32) result.get(0));
    }
  }
}
