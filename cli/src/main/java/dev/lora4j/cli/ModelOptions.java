package dev.lora4j.cli;

import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * --model, --adapter, --precision, --device, --quantize-base: a checkpoint with an optional
 * adapter, compiled.
 */
final class ModelOptions {
  @Option(
      names = "--model",
      required = true,
      paramLabel = "DIR",
      description = "Hugging Face checkpoint directory.")
  Path model;

  @Option(
      names = "--adapter",
      paramLabel = "DIR",
      description = "PEFT adapter directory (none: the base model).")
  Path adapter;

  @Option(
      names = "--precision",
      defaultValue = "f32",
      description = "f32 or bf16 compute. Default: ${DEFAULT-VALUE}.")
  String precision;

  @Option(
      names = "--device",
      defaultValue = "cpu",
      description = "cpu or gpu. Default: ${DEFAULT-VALUE}.")
  CompileOptions.Device device;

  @Mixin QuantizeOptions quantize;

  /**
   * The compile options these flags ask for; throws on a bad flag combination, so a command can
   * check its flags before it reads any data.
   */
  CompileOptions compileOptions() {
    return CompileOptions.defaults()
        .withDevice(device)
        .withPrecision(CliParsing.precision(precision))
        .withQuantization(quantize.quantization());
  }

  /** Compiles the checkpoint with the adapter applied; the caller closes both. */
  CompiledModel compile(Checkpoint checkpoint) {
    CompileOptions options = compileOptions();
    PeftAdapter peft = adapter == null ? null : PeftAdapter.load(adapter);
    List<LoraModuleSpec> specs =
        peft == null ? List.of() : peft.specsFor(checkpoint.architecture());
    CompiledModel compiled = ModelCompiler.compile(checkpoint, specs, options);
    QuantizeOptions.report(compiled);
    if (peft != null) {
      peft.applyTo(compiled);
    }
    return compiled;
  }
}
