package dev.lora4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.compile.WeightVariable;
import dev.lora4j.data.BatchIterator;
import dev.lora4j.data.Sequence;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.train.OptimizerConfig;
import dev.lora4j.train.ScheduleConfig;
import dev.lora4j.train.TrainConfig;
import dev.lora4j.train.Trainer;
import dev.lora4j.train.TrainingReport;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;

/**
 * LoRA over a quantized llama-tiny base: the adapters learn as they do over the float32 base, the
 * quantized variables keep every byte, and nothing but the adapters gets a gradient.
 */
class QuantizedTrainingTest {
  static final int STEPS = 60;

  /** The pattern rows of the trainer tests: mostly (start + 3t) mod 101, sometimes noise. */
  static List<Sequence> rows(int count, int seqLen, long seed) {
    return dev.lora4j.train.TrainerRuns.rows(count, seqLen, seed);
  }

  static List<LoraModuleSpec> specs() {
    return dev.lora4j.train.TrainerRuns.specs();
  }

  record Run(double before, double after, List<Double> losses) {}

  static Run train(Quantization q, Map<String, byte[]> storageBefore, Map<String, byte[]> after) {
    List<Sequence> train = rows(24, 16, 1);
    List<Sequence> validation = rows(8, 16, 2);
    try (Checkpoint checkpoint = Checkpoint.open(Conformance.dir("llama-tiny"));
        CompiledModel model =
            ModelCompiler.compile(
                checkpoint, specs(), CompileOptions.defaults().withSeed(5).withQuantization(q))) {
      for (QuantizedWeight w : model.quantizedWeights().values()) {
        storageBefore.put(w.name(), w.snapshot(model.session()));
      }
      TrainConfig config =
          TrainConfig.defaults(OptimizerConfig.adamW(1e-2, 0.01), STEPS, 4)
              .withSchedule(ScheduleConfig.of(ScheduleConfig.Kind.COSINE, 2, 0.1))
              .withMaxGradNorm(1.0)
              .withSeed(11)
              .withEvaluation(STEPS, 0, 0);
      Trainer trainer = new Trainer(model, config, "llama-tiny", List.of());
      double before = trainer.evaluator().meanLoss(validation, 4);
      TrainingReport report =
          trainer.fit(new BatchIterator(train, 4, 11, true, false), validation, null, null);
      for (QuantizedWeight w : model.quantizedWeights().values()) {
        after.put(w.name(), w.snapshot(model.session()));
      }
      return new Run(before, report.finalValidationLoss(), report.losses());
    }
  }

  @Test
  void loraOverAnNf4BaseLearnsLikeOverTheFloat32Base() {
    Run f32 = train(Quantization.none(), new LinkedHashMap<>(), new LinkedHashMap<>());
    for (Quantization q : List.of(Quantization.nf4(), Quantization.nf4DoubleQuant())) {
      Map<String, byte[]> before = new LinkedHashMap<>();
      Map<String, byte[]> after = new LinkedHashMap<>();
      Run run = train(q, before, after);
      System.out.printf(
          Locale.ROOT,
          "validation loss %s: %.4f -> %.4f; f32: %.4f -> %.4f%n",
          q,
          run.before(),
          run.after(),
          f32.before(),
          f32.after());
      double drop = run.before() - run.after();
      double f32Drop = f32.before() - f32.after();
      assertTrue(f32Drop > 0.5, "the float32 run must learn the pattern: " + f32Drop);
      assertTrue(
          drop > 0.8 * f32Drop,
          q + ": validation loss fell by " + drop + ", the float32 run's by " + f32Drop);
      List<Double> losses = run.losses();
      assertTrue(
          mean(losses.subList(losses.size() - 5, losses.size())) < mean(losses.subList(0, 5)),
          "the training loss must fall too: " + losses);
      assertEquals(14, before.size(), "2 layers x 7 projections are stored quantized");
      for (Map.Entry<String, byte[]> e : before.entrySet()) {
        assertArrayEquals(e.getValue(), after.get(e.getKey()), e.getKey() + " changed");
      }
    }
  }

  private static double mean(List<Double> values) {
    return values.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
  }

  @Test
  void onlyTheAdaptersGetGradientsAndNothingWritesTheQuantizedVariables() {
    try (Checkpoint checkpoint = Checkpoint.open(Conformance.dir("llama-tiny"));
        CompiledModel model =
            ModelCompiler.compile(
                checkpoint,
                specs(),
                CompileOptions.defaults().withQuantization(Quantization.nf4DoubleQuant()))) {
      List<WeightVariable> trainable = model.trainableVariables();
      for (WeightVariable w : trainable) {
        assertTrue(w.name().contains(".lora_A.") || w.name().contains(".lora_B."), w.name());
      }
      List<Operand<org.tensorflow.types.TFloat32>> grads = model.gradients();
      assertEquals(trainable.size(), grads.size());
      new Trainer(
          model, TrainConfig.defaults(OptimizerConfig.adamW(1e-3, 0), 2, 2), "x", List.of());
      // Full fine-tuning over a quantized base is refused, naming the format.
      WeightVariable norm = model.baseWeights().get("model.norm.weight");
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> model.gradientsOf(List.of(norm)));
      assertTrue(e.getMessage().contains("nf4-dq"), e.getMessage());
      // With the optimizer built, the only ops that write a quantized variable are its loaders.
      Set<String> quantized = new HashSet<>();
      for (QuantizedWeight w : model.quantizedWeights().values()) {
        quantized.addAll(w.variableNames());
      }
      assertEquals(14 * 4, quantized.size(), "codes, absmax codes, absmax scales, offset");
      var ops = model.graph().operations();
      int readers = 0;
      while (ops.hasNext()) {
        GraphOperation op = ops.next();
        for (int i = 0; i < op.numInputs(); i++) {
          String source = op.input(i).op().name();
          if (!quantized.contains(source)) {
            continue;
          }
          readers++;
          boolean loader = op.type().equals("Assign") && op.name().equals(source + "_set");
          boolean decoder = op.name().contains("_dequant/") && !op.type().contains("Assign");
          assertTrue(loader || decoder, op.name() + " (" + op.type() + ") reads " + source);
          assertTrue(
              !op.name().contains("Gradients") && !op.name().startsWith("train/"),
              op.name() + " is a gradient or optimizer op on " + source);
        }
      }
      assertTrue(readers >= 2 * quantized.size(), "each variable has a loader and a decoder");
    }
  }

  @Test
  void decodingWaitsForItsInputAndIsRecomputedForTheBackwardPass() {
    try (Checkpoint checkpoint = Checkpoint.open(Conformance.dir("gpt2-tiny"));
        CompiledModel model =
            ModelCompiler.compile(
                checkpoint,
                List.of(),
                CompileOptions.defaults().withQuantization(Quantization.nf4()))) {
      model.cachedDecoder(); // builds generation's cached pass, which decodes the weights too
      int decoders = 0;
      int cachedDecodingDecoders = 0;
      for (org.tensorflow.proto.NodeDef node : model.graph().toGraphDef().getNodeList()) {
        if (!node.getName().contains("_dequant/") || node.getOp().equals("Const")) {
          continue;
        }
        if (node.getName().startsWith("decode/")) {
          cachedDecodingDecoders++; // generation's cached pass decodes the same weights
        } else {
          decoders++;
        }
        assertTrue(node.containsAttr("_recompute_hint"), node.getName() + " lacks the hint");
        assertTrue(
            node.getInputList().stream().anyMatch(i -> i.startsWith("^")),
            node.getName() + " does not wait for its projection's input");
      }
      // 8 projections x (cast, gather, reshape, mul, reshape, reshape)
      assertEquals(8 * 6, decoders);
      assertEquals(8 * 6, cachedDecodingDecoders);
    }
  }
}
