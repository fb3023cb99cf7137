package dev.lora4j.cli;

import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.JsonFields;
import dev.lora4j.io.SafetensorsWriter;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonPrimitive;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** `lora4j logits`: runs a checkpoint (optionally with a PEFT adapter) and writes its logits. */
@Command(
    name = "logits",
    mixinStandardHelpOptions = true,
    description = {
      "Computes the logits of a Hugging Face checkpoint, with or without a PEFT LoRA adapter,"
          + " for a batch of token ids, and writes them as one float32 tensor 'logits'"
          + " [batch, seq, vocab] in a safetensors file."
    })
final class LogitsCommand implements Callable<Integer> {

  @Option(
      names = "--model",
      required = true,
      paramLabel = "DIR",
      description = "Hugging Face checkpoint directory (config.json + *.safetensors).")
  Path model;

  @Option(
      names = "--input",
      required = true,
      paramLabel = "FILE",
      description = "JSON file {\"input_ids\": [[...], ...]} with rows of equal length.")
  Path input;

  @Option(
      names = "--adapter",
      paramLabel = "DIR",
      description = "PEFT adapter directory (adapter_config.json + adapter_model.safetensors).")
  Path adapter;

  @Option(
      names = "--out",
      required = true,
      paramLabel = "FILE",
      description = "Output safetensors file (written atomically).")
  Path out;

  @Option(
      names = "--device",
      defaultValue = "cpu",
      paramLabel = "cpu|gpu",
      description =
          "Where to run: cpu, or gpu (first GPU, soft placement; needs the gpu build profile).")
  CompileOptions.Device device;

  @Mixin QuantizeOptions quantize;

  @Override
  public Integer call() {
    CompileOptions options =
        CompileOptions.defaults().withDevice(device).withQuantization(quantize.quantization());
    try (Checkpoint checkpoint = Checkpoint.open(model)) {
      int[][] ids = readIds(input);
      PeftAdapter peft = adapter == null ? null : PeftAdapter.load(adapter);
      List<LoraModuleSpec> specs =
          peft == null ? List.of() : peft.specsFor(checkpoint.architecture());
      try (CompiledModel compiled = ModelCompiler.compile(checkpoint, specs, options)) {
        compiled.checkInputs(ids);
        QuantizeOptions.report(compiled);
        if (peft != null) {
          peft.applyTo(compiled);
        }
        CompiledModel.Logits logits = compiled.logits(ids);
        SafetensorsWriter.write(
            out,
            Map.of(
                "logits",
                SafetensorsWriter.TensorData.f32(
                    new long[] {logits.batch(), logits.time(), logits.vocab()}, logits.values())),
            Map.of());
        System.out.printf(
            "wrote logits [%d, %d, %d] to %s%n",
            logits.batch(), logits.time(), logits.vocab(), out);
      }
    }
    return 0;
  }

  /** Reads `{"input_ids": [[...], ...]}`, naming the file and the position of a bad entry. */
  static int[][] readIds(Path file) {
    JsonFields fields = JsonFields.parse(file);
    JsonElement rows = fields.get("input_ids");
    if (!(rows instanceof JsonArray array) || array.isEmpty()) {
      throw new CheckpointException(
          file + ": field 'input_ids' must be a non-empty list of token-id lists");
    }
    int[][] ids = new int[array.size()][];
    for (int b = 0; b < ids.length; b++) {
      if (!(array.get(b) instanceof JsonArray row)) {
        throw new CheckpointException(
            file + ": input_ids[" + b + "] must be a list of token ids, was " + array.get(b));
      }
      ids[b] = new int[row.size()];
      for (int t = 0; t < ids[b].length; t++) {
        JsonElement e = row.get(t);
        Integer id = null;
        if (e instanceof JsonPrimitive p && !p.isString()) {
          try {
            id = Integer.parseInt(p.getContent());
          } catch (NumberFormatException ignored) {
            // reported below
          }
        }
        if (id == null) {
          throw new CheckpointException(
              file + ": input_ids[" + b + "][" + t + "] must be an integer token id, was " + e);
        }
        ids[b][t] = id;
      }
    }
    return ids;
  }
}
