package dev.lora4j.adapter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.compile.WeightVariable;
import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.DType;
import dev.lora4j.io.SafetensorsFile;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/** Merged equals unmerged; merged weights equal the reference's; unmerge restores the base. */
class MergeTest {
  static final List<String> CASES = Conformance.CASES;
  @TempDir Path tmp;

  @ParameterizedTest(name = "{0}: merged weights equal the reference's merged checkpoint (1e-6)")
  @FieldSource("CASES")
  void mergedWeightsEqualTheReference(String name) {
    Path dir = Conformance.dir(name);
    PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
    try (Checkpoint checkpoint = Checkpoint.open(dir);
        SafetensorsFile reference = SafetensorsFile.open(dir.resolve("merged/model.safetensors"))) {
      Map<String, float[]> merged = Merger.mergedWeights(checkpoint, adapter);
      assertEquals(adapter.modules().size(), merged.size());
      for (String key : checkpoint.architecture().expectedWeights().keySet()) {
        float[] got = merged.containsKey(key) ? merged.get(key) : checkpoint.floats(key);
        double diff = Conformance.maxAbsDiff(got, reference.floats(key));
        assertTrue(diff <= 1e-6, name + " " + key + ": max abs diff " + diff);
      }
    }
  }

  @ParameterizedTest(name = "{0}: the exported merged checkpoint gives the adapter's logits")
  @FieldSource("CASES")
  void exportedMergedCheckpointGivesAdapterLogits(String name) {
    Path dir = Conformance.dir(name);
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
    Path out = tmp.resolve("merged");
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      Merger.exportMerged(checkpoint, adapter, out, DType.F32, false);
    }
    try (Checkpoint merged = Checkpoint.open(out);
        CompiledModel model = ModelCompiler.compile(merged, List.of(), CompileOptions.defaults())) {
      float[] want = Conformance.tensor(dir.resolve("logits_adapter.safetensors"), "logits");
      double diff = Conformance.maxAbsDiff(model.logits(ids).values(), want);
      assertTrue(diff <= 1e-4, name + ": max abs diff " + diff);
    }
  }

  @Test
  void exportKeepsTheBaseDtypeByDefault() {
    Path dir = Conformance.dir("gpt2-tiny-bf16");
    Path out = tmp.resolve("merged-bf16");
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      Merger.exportMerged(checkpoint, PeftAdapter.load(dir.resolve("adapter")), out, null, false);
    }
    try (SafetensorsFile f = SafetensorsFile.open(out.resolve("model.safetensors"))) {
      assertTrue(f.tensors().stream().allMatch(t -> t.dtype() == DType.BF16));
    }
  }

  @ParameterizedTest(name = "{0}: merge into the graph equals the adapter graph; unmerge restores")
  @FieldSource("CASES")
  void mergeInPlaceEqualsUnmergedAndUnmergeRestores(String name) {
    Path dir = Conformance.dir(name);
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
    try (Checkpoint checkpoint = Checkpoint.open(dir);
        CompiledModel unmerged =
            ModelCompiler.compile(
                checkpoint,
                adapter.specsFor(checkpoint.architecture()),
                CompileOptions.defaults());
        CompiledModel plain =
            ModelCompiler.compile(checkpoint, List.of(), CompileOptions.defaults())) {
      adapter.applyTo(unmerged);
      Map<String, float[]> original = new LinkedHashMap<>();
      for (WeightVariable w : plain.baseWeights().values()) {
        original.put(w.name(), plain.read(w));
      }
      Merger.mergeInto(plain, adapter, +1);
      double diff =
          Conformance.maxAbsDiff(plain.logits(ids).values(), unmerged.logits(ids).values());
      assertTrue(diff <= 1e-4, name + ": merged vs unmerged " + diff);
      Merger.mergeInto(plain, adapter, -1);
      for (WeightVariable w : plain.baseWeights().values()) {
        double restored = Conformance.maxAbsDiff(plain.read(w), original.get(w.name()));
        assertTrue(restored <= 1e-6, w.name() + ": unmerge left " + restored);
      }
    }
  }

  @Test
  void aMergeWithNonFiniteResultIsRefusedNamingTheModule() {
    Path dir = Conformance.dir("llama-tiny");
    PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
    LoraFactors first = adapter.modules().values().iterator().next();
    first.b()[0] = Float.MAX_VALUE;
    first.a()[0] = Float.MAX_VALUE;
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      String m =
          assertThrows(IllegalStateException.class, () -> Merger.mergedWeights(checkpoint, adapter))
              .getMessage();
      assertTrue(m.contains(first.module() + ".weight"), m);
      assertTrue(m.contains("Nothing was written"), m);
    }
  }

  @Test
  void aNonEmptyOutputDirectoryIsRefusedWithoutForce() throws Exception {
    Path out = Files.createDirectories(tmp.resolve("busy"));
    Files.writeString(out.resolve("keep.txt"), "mine");
    Path dir = Conformance.dir("qwen2-tiny");
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      PeftAdapter adapter = PeftAdapter.load(dir.resolve("adapter"));
      String m =
          assertThrows(
                  CheckpointException.class,
                  () -> Merger.exportMerged(checkpoint, adapter, out, null, false))
              .getMessage();
      assertTrue(m.contains("--force"), m);
      assertEquals("mine", Files.readString(out.resolve("keep.txt")));
      Merger.exportMerged(checkpoint, adapter, out, null, true);
      assertTrue(Files.exists(out.resolve("model.safetensors")));
    }
  }
}
