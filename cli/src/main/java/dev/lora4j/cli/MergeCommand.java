package dev.lora4j.cli;

import dev.lora4j.adapter.Merger;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.io.DType;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.quant.Quantization;
import dev.lora4j.quant.QuantizedMerge;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** `lora4j merge`: writes a plain checkpoint with a PEFT adapter merged into its weights. */
@Command(
    name = "merge",
    mixinStandardHelpOptions = true,
    description = {
      "Merges a PEFT LoRA adapter into a Hugging Face checkpoint and writes a plain checkpoint"
          + " directory (config.json, model.safetensors, tokenizer files) that any loader reads as"
          + " a base model: no adapter ops, no added inference latency."
    })
final class MergeCommand implements Callable<Integer> {
  enum OutputDtype {
    auto,
    float32,
    bfloat16
  }

  @Option(names = "--model", required = true, paramLabel = "DIR", description = "Base checkpoint.")
  Path model;

  @Option(names = "--adapter", required = true, paramLabel = "DIR", description = "PEFT adapter.")
  Path adapter;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "New directory.")
  Path out;

  @Option(
      names = "--dtype",
      defaultValue = "auto",
      description =
          "Storage dtype: auto (the base's), float32 or bfloat16. Default: ${DEFAULT-VALUE}.")
  OutputDtype dtype;

  @Option(names = "--force", description = "Overwrite files in a non-empty --out directory.")
  boolean force;

  @Mixin QuantizeOptions quantize;

  @Option(
      names = "--requantize",
      description =
          "With --quantize-base: quantize the merged weights again, so the output stays on the"
              + " quantized grid (more drift).")
  boolean requantize;

  @Option(
      names = "--allow-drift",
      description =
          "With --quantize-base: write the merge although its logits differ from the float32"
              + " merge (the drift is measured and printed either way).")
  boolean allowDrift;

  @Override
  public Integer call() {
    PeftAdapter peft = PeftAdapter.load(adapter);
    try (Checkpoint checkpoint = Checkpoint.open(model)) {
      if (peft.config().getBaseModelNameOrPath() != null
          && !model.getFileName().toString().equals(peft.config().getBaseModelNameOrPath())
          && !model.toString().equals(peft.config().getBaseModelNameOrPath())) {
        System.err.println(
            "lora4j merge: warning: the adapter names base model '"
                + peft.config().getBaseModelNameOrPath()
                + "', merging into "
                + model
                + " anyway (its shapes fit)");
      }
      DType target =
          switch (dtype) {
            case auto -> null;
            case float32 -> DType.F32;
            case bfloat16 -> DType.BF16;
          };
      Quantization q = quantize.quantization();
      if (q.enabled()) {
        QuantizedMerge.Drift drift =
            QuantizedMerge.export(checkpoint, peft, q, requantize, allowDrift, out, target, force);
        System.out.println(drift.describe());
      } else if (requantize || allowDrift) {
        throw new IllegalArgumentException(
            "--requantize and --allow-drift apply to a merge into a quantized base; add"
                + " --quantize-base int8|nf4|bf16, or drop them for an exact float32 merge");
      } else {
        Merger.exportMerged(checkpoint, peft, out, target, force);
      }
    }
    System.out.println("wrote merged checkpoint to " + out);
    return 0;
  }
}
