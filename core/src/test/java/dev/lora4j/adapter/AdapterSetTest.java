package dev.lora4j.adapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Swapping adapters on one graph gives exactly the outputs of each adapter compiled alone. */
class AdapterSetTest {
  static float[] alone(Checkpoint checkpoint, PeftAdapter adapter, int[][] ids) {
    try (CompiledModel model =
        ModelCompiler.compile(
            checkpoint,
            adapter == null ? List.of() : adapter.specsFor(checkpoint.architecture()),
            CompileOptions.defaults())) {
      if (adapter != null) {
        adapter.applyTo(model);
      }
      return model.logits(ids).values();
    }
  }

  @Test
  void swappingGivesEachAdaptersOwnOutputsBitForBitAndTheBase() {
    Path dir = Conformance.dir("gpt2-tiny");
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    PeftAdapter first = PeftAdapter.load(dir.resolve("adapter"));
    PeftAdapter second = PeftAdapter.load(dir.resolve("train/adapter_step3"));
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      float[] base = alone(checkpoint, null, ids);
      float[] firstAlone = alone(checkpoint, first, ids);
      float[] secondAlone = alone(checkpoint, second, ids);
      try (CompiledModel model =
          ModelCompiler.compile(
              checkpoint,
              AdapterSet.capacity(checkpoint.architecture(), List.of(first, second)),
              CompileOptions.defaults())) {
        AdapterSet set = new AdapterSet(model);
        set.add("first", first);
        set.add("second", second);
        set.activate("first");
        assertArrayEquals(firstAlone, model.logits(ids).values());
        set.activate("second");
        assertArrayEquals(secondAlone, model.logits(ids).values());
        assertFalse(Arrays.equals(firstAlone, secondAlone));
        set.activateBase();
        assertArrayEquals(base, model.logits(ids).values());
        assertEquals(null, set.active());
        set.activate("first");
        assertArrayEquals(firstAlone, model.logits(ids).values());
      }
    }
  }

  @Test
  void adaptersOfDifferentRanksAndTargetsShareOneGraph() {
    Path dir = Conformance.dir("llama-tiny");
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    PeftAdapter qv = PeftAdapter.load(dir.resolve("adapter")); // q r4, v r8
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      float[] want = alone(checkpoint, qv, ids);
      var specs =
          new java.util.ArrayList<>(AdapterSet.capacity(checkpoint.architecture(), List.of(qv)));
      // A bigger slot on q (rank 6) and an extra module the adapter does not touch.
      specs.replaceAll(
          s ->
              s.module().endsWith("q_proj")
                  ? new dev.lora4j.compile.LoraModuleSpec(
                      s.module(), 6, 12, 2, 0, s.init(), List.of())
                  : s);
      specs.add(
          new dev.lora4j.compile.LoraModuleSpec(
              "model.layers.0.mlp.up_proj",
              2,
              4,
              2,
              0,
              dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM,
              List.of()));
      try (CompiledModel model =
          ModelCompiler.compile(checkpoint, specs, CompileOptions.defaults())) {
        AdapterSet set = new AdapterSet(model);
        set.add("qv", qv);
        set.activate("qv");
        double diff = Conformance.maxAbsDiff(want, model.logits(ids).values());
        assertTrue(diff <= 1e-5, "padded ranks add nothing: " + diff);
      }
    }
  }

  @Test
  void anAdapterThatDoesNotFitTheSlotsIsRefusedByName() {
    Path dir = Conformance.dir("llama-tiny");
    PeftAdapter qv = PeftAdapter.load(dir.resolve("adapter"));
    try (Checkpoint checkpoint = Checkpoint.open(dir);
        CompiledModel model =
            ModelCompiler.compile(checkpoint, List.of(), CompileOptions.defaults())) {
      AdapterSet set = new AdapterSet(model);
      String m = assertThrows(IllegalArgumentException.class, () -> set.add("qv", qv)).getMessage();
      assertTrue(m.contains("adapter 'qv' adapts model.layers.0.self_attn.q_proj"), m);
      assertThrows(IllegalArgumentException.class, () -> set.activate("missing"));
    }
  }
}
