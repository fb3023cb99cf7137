package dev.lora4j.cli;

import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.adapter.SavedModelExport;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `lora4j export-savedmodel`: a merged model as a TensorFlow SavedModel. */
@Command(
    name = "export-savedmodel",
    mixinStandardHelpOptions = true,
    description =
        "Writes a TensorFlow SavedModel (signature serving_default: input_ids -> logits) of the"
            + " model with the adapter merged in, for TF Serving or any TensorFlow runtime.")
final class ExportSavedModelCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "DIR", description = "Base checkpoint.")
  Path model;

  @Option(
      names = "--adapter",
      paramLabel = "DIR",
      description = "PEFT adapter to merge (none: the base).")
  Path adapter;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "New directory.")
  Path out;

  @Option(names = "--force", description = "Overwrite files in a non-empty --out directory.")
  boolean force;

  @Override
  public Integer call() {
    try (Checkpoint checkpoint = Checkpoint.open(model)) {
      SavedModelExport.export(
          checkpoint, adapter == null ? null : PeftAdapter.load(adapter), out, force);
    }
    System.out.println(
        "wrote SavedModel to " + out + " (signature " + SavedModelExport.SIGNATURE + ")");
    return 0;
  }
}
