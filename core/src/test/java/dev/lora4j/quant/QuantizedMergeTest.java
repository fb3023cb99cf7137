package dev.lora4j.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.adapter.Merger;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.io.DType;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Merging into a quantized base: what it writes, and the drift it reports. */
class QuantizedMergeTest {
  @TempDir Path tmp;

  @Test
  void mergingIntoAnNf4BaseReproducesTheUnmergedAdapterOnThatBase() {
    Path dir = Conformance.dir("llama-tiny");
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
    Path out = tmp.resolve("merged");
    QuantizedMerge.Drift drift;
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      drift =
          QuantizedMerge.export(
              checkpoint, adapter, Quantization.nf4(), false, true, out, DType.F32, false);
    }
    // The drift is the quantization error of the base, measured against the float32 merge.
    assertTrue(drift.maxAbs() > 0.1 && drift.meanAbs() < drift.maxAbs(), drift.describe());
    assertTrue(drift.describe().contains("nf4") && drift.describe().contains("max abs"));
    float[] unmerged =
        QuantizedModelTest.adapterLogits(
            dir, CompileOptions.defaults().withQuantization(Quantization.nf4()));
    try (Checkpoint merged = Checkpoint.open(out);
        CompiledModel model = ModelCompiler.compile(merged, List.of(), CompileOptions.defaults())) {
      double diff = Conformance.maxAbsDiff(model.logits(ids).values(), unmerged);
      assertTrue(diff <= 1e-4, "merged vs unmerged on the nf4 base: max abs diff " + diff);
    }
  }

  @Test
  void reQuantizingTheMergeIsReportedAndStaysOnTheNf4Grid() {
    Path dir = Conformance.dir("qwen2-tiny");
    PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      var merged = QuantizedMerge.mergedWeights(checkpoint, adapter, Quantization.nf4(), true);
      assertEquals(checkpoint.architecture().projections().size(), merged.size());
      for (var p : checkpoint.architecture().projections()) {
        float[] w = merged.get(p.weightKey());
        // Quantizing a re-quantized weight again changes nothing: it already is on the grid.
        float[] again =
            QuantizedMerge.roundTrip(
                p.weightKey(), w, p.weightShape(), p.layout(), Quantization.nf4());
        assertEquals(0.0, Conformance.maxAbsDiff(w, again), p.weightKey());
      }
      QuantizedMerge.Drift requantized =
          QuantizedMerge.drift(
              checkpoint,
              adapter,
              merged,
              Quantization.nf4(),
              true,
              QuantizedMerge.probeIds(checkpoint.config()));
      assertTrue(requantized.describe().contains("re-quantizing"), requantized.describe());
      assertTrue(requantized.maxAbs() > 0.01, requantized.describe());
    }
  }

  @Test
  void aCompiledQuantizedModelRefusesAnInPlaceMerge() {
    Path dir = Conformance.dir("llama-tiny");
    PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
    try (Checkpoint checkpoint = Checkpoint.open(dir);
        CompiledModel model =
            ModelCompiler.compile(
                checkpoint,
                List.of(),
                CompileOptions.defaults().withQuantization(Quantization.int8()))) {
      IllegalStateException e =
          assertThrows(IllegalStateException.class, () -> Merger.mergeInto(model, adapter, +1));
      assertTrue(e.getMessage().contains("drift"), e.getMessage());
    }
  }

  @Test
  void theReportedDriftIsTheDriftOfWhatWasWrittenInBf16() {
    Path dir = Conformance.dir("gpt2-tiny-bf16");
    PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
    Path out = tmp.resolve("merged-bf16");
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      int[][] ids = QuantizedMerge.probeIds(checkpoint.config());
      // dtype null: the base's bf16, so the merged weights are rounded once more when written.
      QuantizedMerge.Drift drift =
          QuantizedMerge.export(
              checkpoint, adapter, Quantization.int8(), false, true, out, null, false);
      float[] exact;
      try (CompiledModel model =
          ModelCompiler.compile(checkpoint, List.of(), CompileOptions.defaults())) {
        for (var e : Merger.mergedWeights(checkpoint, adapter).entrySet()) {
          model.assign(model.baseWeights().get(e.getKey()), e.getValue());
        }
        exact = model.logits(ids).values();
      }
      try (Checkpoint written = Checkpoint.open(out);
          CompiledModel model =
              ModelCompiler.compile(written, List.of(), CompileOptions.defaults())) {
        assertEquals(
            dev.lora4j.io.DType.BF16, written.info("transformer.h.0.attn.c_attn.weight").dtype());
        double diff = Conformance.maxAbsDiff(model.logits(ids).values(), exact);
        assertEquals(drift.maxAbs(), diff, 1e-5, drift.describe());
      }
    }
  }
}
