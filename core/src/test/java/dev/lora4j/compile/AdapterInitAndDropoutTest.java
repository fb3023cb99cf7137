package dev.lora4j.compile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.model.Checkpoint;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tensorflow.Result;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/** PEFT's inits (B = 0) and dropout that acts only while training. */
class AdapterInitAndDropoutTest {
  static Checkpoint llama;
  static int[][] ids;

  @BeforeAll
  static void open() {
    llama = Checkpoint.open(Conformance.dir("llama-tiny"));
    ids = Conformance.ids(Conformance.dir("llama-tiny").resolve("inputs.json"));
  }

  @AfterAll
  static void close() {
    llama.close();
  }

  private static List<LoraModuleSpec> specs(
      int rank, double dropout, dev.lora4j.dsl.LoraInit init) {
    List<LoraModuleSpec> specs = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      for (String proj : List.of("q_proj", "v_proj")) {
        specs.add(
            new LoraModuleSpec(
                "model.layers." + i + ".self_attn." + proj,
                rank,
                2.0 * rank,
                2.0,
                dropout,
                init,
                List.of()));
      }
    }
    return specs;
  }

  @Test
  void kaimingUniformAIsBoundedByOneOverSqrtInAndBIsZero() {
    try (CompiledModel model =
        ModelCompiler.compile(
            llama,
            specs(8, 0, dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM),
            CompileOptions.defaults())) {
      for (AdapterModule module : model.adapters().values()) {
        AdapterModule.Part part = module.parts().get(0);
        float[] a = model.read(part.a());
        double bound = 1 / Math.sqrt(64);
        double maxAbs = 0;
        for (float v : a) {
          maxAbs = Math.max(maxAbs, Math.abs(v));
        }
        assertTrue(maxAbs <= bound && maxAbs > 0.8 * bound, "max |A| " + maxAbs);
        assertArrayEquals(new float[(int) part.b().numel()], model.read(part.b()));
      }
    }
  }

  @Test
  void gaussianAHasStandardDeviationOneOverRank() {
    try (CompiledModel model =
        ModelCompiler.compile(
            llama, specs(8, 0, dev.lora4j.dsl.LoraInit.GAUSSIAN), CompileOptions.defaults())) {
      double sum = 0;
      double sumSq = 0;
      int n = 0;
      for (AdapterModule module : model.adapters().values()) {
        for (float v : model.read(module.parts().get(0).a())) {
          sum += v;
          sumSq += v * v;
          n++;
        }
      }
      double std = Math.sqrt(sumSq / n - (sum / n) * (sum / n));
      assertEquals(1.0 / 8, std, 0.01);
    }
  }

  @Test
  void sameSeedGivesTheSameInitAndAnotherSeedAnother() {
    var specs = specs(4, 0, dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM);
    try (CompiledModel a = ModelCompiler.compile(llama, specs, CompileOptions.defaults());
        CompiledModel b = ModelCompiler.compile(llama, specs, CompileOptions.defaults());
        CompiledModel c =
            ModelCompiler.compile(llama, specs, CompileOptions.defaults().withSeed(7))) {
      WeightVariable firstA = a.trainableVariables().get(0);
      assertArrayEquals(a.read(firstA), b.read(b.trainableVariables().get(0)));
      assertFalse(Arrays.equals(a.read(firstA), c.read(c.trainableVariables().get(0))));
    }
  }

  @Test
  void dropoutActsOnlyWhileTrainingAndFollowsItsSeed() {
    try (CompiledModel plain =
            ModelCompiler.compile(
                llama,
                specs(4, 0, dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM),
                CompileOptions.defaults());
        CompiledModel dropped =
            ModelCompiler.compile(
                llama,
                specs(4, 0.5, dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM),
                CompileOptions.defaults())) {
      Random random = new Random(3);
      for (int i = 0; i < plain.trainableVariables().size(); i++) {
        float[] values = new float[(int) plain.trainableVariables().get(i).numel()];
        for (int j = 0; j < values.length; j++) {
          values[j] = (float) random.nextGaussian() * 0.1f;
        }
        plain.assign(plain.trainableVariables().get(i), values);
        dropped.assign(dropped.trainableVariables().get(i), values);
      }
      float[] inference = dropped.logits(ids).values();
      assertArrayEquals(plain.logits(ids).values(), inference, "no dropout at inference");
      float[] train1 = trainingLogits(dropped, 1);
      float[] train1Again = trainingLogits(dropped, 1);
      float[] train2 = trainingLogits(dropped, 2);
      assertFalse(Arrays.equals(inference, train1), "dropout changes training outputs");
      assertArrayEquals(train1, train1Again, "the same dropout seed gives the same mask");
      assertFalse(Arrays.equals(train1, train2), "another seed gives another mask");
    }
  }

  private static float[] trainingLogits(CompiledModel model, long seed) {
    try (TInt32 input = CompiledModel.idsTensor(ids);
        TBool training = TBool.scalarOf(true);
        TInt64 seedTensor = TInt64.vectorOf(seed, 0);
        Result result =
            model
                .session()
                .runner()
                .feed(model.inputIdsPlaceholder(), input)
                .feed(model.trainingPlaceholder(), training)
                .feed(model.dropoutSeedPlaceholder(), seedTensor)
                .fetch(model.logitsOp())
                .run()) {
      return HostTensors.toArray((TFloat32) result.get(0));
    }
  }
}
