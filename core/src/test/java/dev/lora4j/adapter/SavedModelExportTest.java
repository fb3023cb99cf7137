package dev.lora4j.adapter;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Tensor;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** A SavedModel with the adapter merged in reloads in TF Java and gives the adapter's logits. */
class SavedModelExportTest {
  @TempDir Path tmp;

  @Test
  void exportedSavedModelReloadsAndGivesTheAdapterLogits() {
    Path dir = Conformance.dir("qwen2-tiny");
    int[][] ids = Conformance.ids(dir.resolve("inputs.json"));
    Path out = tmp.resolve("saved");
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      SavedModelExport.export(checkpoint, PeftAdapter.load(dir.resolve("adapter")), out, false);
    }
    try (SavedModelBundle bundle = SavedModelBundle.load(out.toString(), "serve");
        TInt32 input = CompiledModel.idsTensor(ids);
        Result result =
            bundle
                .function(SavedModelExport.SIGNATURE)
                .call(Map.<String, Tensor>of("input_ids", input))) {
      TFloat32 logits = (TFloat32) result.get("logits").orElseThrow();
      float[] got = new float[(int) logits.size()];
      logits.asRawTensor().data().asFloats().read(got);
      float[] want = Conformance.tensor(dir.resolve("logits_adapter.safetensors"), "logits");
      double diff = Conformance.maxAbsDiff(got, want);
      assertTrue(diff <= 1e-4, "max abs diff " + diff);
    }
  }
}
