package dev.lora4j.adapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.compile.WeightVariable;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.model.Projection;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/** Adapters saved in PEFT's layout load back to the same factors and the same logits. */
class PeftSaveTest {
  static final List<String> CASES = Conformance.CASES;
  @TempDir Path tmp;

  @ParameterizedTest(name = "{0}: save then load gives identical factors and logits")
  @FieldSource("CASES")
  void roundTrip(String name) {
    Path dir = Conformance.dir(name);
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    PeftAdapter original = PeftAdapter.load(dir.resolve("adapter"));
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      float[] before;
      try (CompiledModel model =
          ModelCompiler.compile(
              checkpoint,
              original.specsFor(checkpoint.architecture()),
              CompileOptions.defaults())) {
        original.applyTo(model);
        before = model.logits(ids).values();
        PeftAdapter.save(model, tmp.resolve("saved"), name);
      }
      PeftAdapter saved = PeftAdapter.load(tmp.resolve("saved"));
      assertEquals(original.config().getFanInFanOut(), saved.config().getFanInFanOut());
      assertEquals(original.config().getUseRslora(), saved.config().getUseRslora());
      for (LoraFactors f : original.modules().values()) {
        LoraFactors g = saved.modules().get(f.module());
        assertArrayEquals(f.a(), g.a(), f.module());
        assertArrayEquals(f.b(), g.b(), f.module());
      }
      try (CompiledModel reloaded =
          ModelCompiler.compile(
              checkpoint, saved.specsFor(checkpoint.architecture()), CompileOptions.defaults())) {
        for (int i = 0; i < reloaded.adapters().size(); i++) {
          var spec = reloaded.adapters().values().stream().toList().get(i).spec();
          var want = original.specsFor(checkpoint.architecture()).get(i);
          assertEquals(want.rank(), spec.rank(), spec.module());
          assertEquals(want.scale(), spec.scale(), 1e-12, spec.module());
        }
        saved.applyTo(reloaded);
        assertArrayEquals(before, reloaded.logits(ids).values());
      }
    }
  }

  @Test
  void sliceAdapterIsSavedAsTheEquivalentWholeModuleAdapter() {
    Path dir = Conformance.dir("gpt2-tiny");
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      List<LoraModuleSpec> specs = new ArrayList<>();
      for (Projection p : checkpoint.architecture().projections()) {
        if (p.name().endsWith("c_attn")) {
          specs.add(
              new LoraModuleSpec(
                  p.name(),
                  4,
                  32,
                  8,
                  0,
                  dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM,
                  List.of("q", "v")));
        }
      }
      float[] sliced;
      float[][] originalFactors;
      try (CompiledModel model =
          ModelCompiler.compile(checkpoint, specs, CompileOptions.defaults())) {
        randomize(model);
        originalFactors =
            model.trainableVariables().stream().map(model::read).toArray(float[][]::new);
        sliced = model.logits(ids).values();
        PeftAdapter.save(model, tmp.resolve("qv"), "gpt2-tiny");
      }
      PeftAdapter whole = PeftAdapter.load(tmp.resolve("qv"));
      LoraFactors f = whole.modules().get("transformer.h.0.attn.c_attn");
      assertEquals(8, f.rank());
      assertEquals(8.0, whole.config().scaleFor("transformer.h.0.attn.c_attn"), 1e-12);
      int d = 48;
      for (int row = d; row < 2 * d; row++) {
        for (int c = 0; c < 8; c++) {
          assertEquals(0f, f.b()[row * 8 + c], "k rows of B are zero");
        }
      }
      try (CompiledModel model =
          ModelCompiler.compile(
              checkpoint,
              whole.wholeModuleSpecsFor(checkpoint.architecture()),
              CompileOptions.defaults())) {
        whole.applyTo(model);
        float[] got = model.logits(ids).values();
        double max = 0;
        for (int i = 0; i < got.length; i++) {
          max = Math.max(max, Math.abs(got[i] - sliced[i]));
        }
        assertTrue(max <= 1e-5, "whole-module form gives the same logits: " + max);
      }
      // lora4j reads it back as the slice adapter it trained: same specs, same factors, same bits.
      List<LoraModuleSpec> readBack = whole.specsFor(checkpoint.architecture());
      assertEquals(specs, readBack);
      try (CompiledModel model =
          ModelCompiler.compile(checkpoint, readBack, CompileOptions.defaults())) {
        whole.applyTo(model);
        assertArrayEquals(sliced, model.logits(ids).values());
        assertArrayEquals(
            originalFactors,
            model.trainableVariables().stream().map(model::read).toArray(float[][]::new));
      }
    }
  }

  @Test
  void sliceMetadataIsIgnoredWithAWarningWhenTheFactorsAreNoLongerSliced() throws Exception {
    Path dir = Conformance.dir("gpt2-tiny");
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      List<LoraModuleSpec> specs = qvSpecs(checkpoint);
      try (CompiledModel model =
          ModelCompiler.compile(checkpoint, specs, CompileOptions.defaults())) {
        randomize(model);
        PeftAdapter saved = PeftAdapter.save(model, tmp.resolve("qv"), "gpt2-tiny");
        // As if PEFT trained it further as a whole module: B's k rows are no longer zero.
        Map<String, LoraFactors> edited = new java.util.LinkedHashMap<>(saved.modules());
        LoraFactors f = edited.get("transformer.h.1.attn.c_attn");
        float[] b = f.b().clone();
        b[60 * f.rank()] = 0.5f; // row 60 lies in k (rows 48..95)
        edited.put(f.module(), new LoraFactors(f.module(), f.rank(), f.in(), f.out(), f.a(), b));
        Map<String, Double> scales = new java.util.LinkedHashMap<>();
        edited.keySet().forEach(m -> scales.put(m, 8.0));
        PeftAdapter.write(
            tmp.resolve("edited"), edited, scales, false, true, 0, "gpt2-tiny", saved.slices());
      }
      PeftAdapter edited = PeftAdapter.load(tmp.resolve("edited"));
      List<LoraModuleSpec> read = edited.specsFor(checkpoint.architecture());
      assertEquals(List.of("q", "v"), read.get(0).slices(), "h.0 is still a slice adapter");
      assertEquals(List.of(), read.get(1).slices(), "h.1 is read as a whole module");
      assertEquals(8, read.get(1).rank());
    }
  }

  @Test
  void malformedSliceMetadataNamesTheKeyAndTheExpectedForm() throws Exception {
    Path dir = Conformance.dir("gpt2-tiny");
    try (Checkpoint checkpoint = Checkpoint.open(dir);
        CompiledModel model =
            ModelCompiler.compile(checkpoint, qvSpecs(checkpoint), CompileOptions.defaults())) {
      PeftAdapter saved = PeftAdapter.save(model, tmp.resolve("qv"), "gpt2-tiny");
      PeftAdapter.write(
          tmp.resolve("bad"),
          saved.modules(),
          java.util.Map.of("transformer.h.0.attn.c_attn", 8.0, "transformer.h.1.attn.c_attn", 8.0),
          false,
          true,
          0,
          "gpt2-tiny",
          java.util.Map.of("transformer.h.0.attn.c_attn", List.of("q", "k", "v")));
    }
    var e =
        org.junit.jupiter.api.Assertions.assertThrows(
            dev.lora4j.io.CheckpointException.class, () -> PeftAdapter.load(tmp.resolve("bad")));
    assertTrue(e.getMessage().contains("lora4j.slices"), e.getMessage());
    assertTrue(e.getMessage().contains("not a multiple of 3"), e.getMessage());
  }

  private static List<LoraModuleSpec> qvSpecs(Checkpoint checkpoint) {
    List<LoraModuleSpec> specs = new ArrayList<>();
    for (Projection p : checkpoint.architecture().projections()) {
      if (p.name().endsWith("c_attn")) {
        specs.add(
            new LoraModuleSpec(
                p.name(), 4, 32, 8, 0, dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM, List.of("q", "v")));
      }
    }
    return specs;
  }

  private static void randomize(CompiledModel model) {
    Random random = new Random(5);
    for (WeightVariable w : model.trainableVariables()) {
      float[] values = new float[(int) w.numel()];
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) random.nextGaussian() * 0.05f;
      }
      model.assign(w, values);
    }
  }
}
