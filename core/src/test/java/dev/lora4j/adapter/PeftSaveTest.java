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
      try (CompiledModel model =
          ModelCompiler.compile(checkpoint, specs, CompileOptions.defaults())) {
        Random random = new Random(5);
        for (WeightVariable w : model.trainableVariables()) {
          float[] values = new float[(int) w.numel()];
          for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian() * 0.05f;
          }
          model.assign(w, values);
        }
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
              checkpoint, whole.specsFor(checkpoint.architecture()), CompileOptions.defaults())) {
        whole.applyTo(model);
        float[] got = model.logits(ids).values();
        double max = 0;
        for (int i = 0; i < got.length; i++) {
          max = Math.max(max, Math.abs(got[i] - sliced[i]));
        }
        assertTrue(max <= 1e-5, "whole-module form gives the same logits: " + max);
      }
    }
  }
}
