package dev.lora4j.adapter;

import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.io.CheckpointException;
import dev.lora4j.model.Checkpoint;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Signature;

/**
 * Exports a model, with an adapter merged into its weights, as a TensorFlow SavedModel with one
 * serving signature, input_ids [batch, seq] int32 → logits [batch, seq, vocab] float32, that TF
 * Serving or any TensorFlow runtime loads. Merged, so serving costs exactly the base model.
 */
public final class SavedModelExport {
  public static final String SIGNATURE = "serving_default";

  private SavedModelExport() {}

  /**
   * @param adapter merged into the exported weights; null exports the base model
   * @param force replace files in a non-empty directory
   */
  public static void export(Checkpoint checkpoint, PeftAdapter adapter, Path dir, boolean force) {
    Merger.prepareOutput(dir, force);
    try (CompiledModel model =
        ModelCompiler.compile(checkpoint, List.of(), CompileOptions.defaults())) {
      if (adapter != null) {
        Merger.mergeInto(model, adapter, +1);
      }
      // A signature output read straight from a ref variable would have a _REF dtype: identity.
      Signature signature =
          Signature.builder()
              .key(SIGNATURE)
              .input("input_ids", model.inputIdsPlaceholder())
              .output("logits", model.ops().withName("serving_logits").identity(model.logitsOp()))
              .build();
      SavedModelBundle.exporter(dir.toString())
          .withSession(model.session())
          .withSignature(signature)
          .export();
    } catch (IOException e) {
      throw new CheckpointException(dir + ": cannot write the SavedModel: " + e.getMessage(), e);
    }
  }
}
