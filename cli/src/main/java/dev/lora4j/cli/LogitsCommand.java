package dev.lora4j.cli;

import dev.lora4j.adapter.MixedAdapters;
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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonPrimitive;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

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
  @Spec CommandLine.Model.CommandSpec spec;

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
      description =
          "JSON file {\"input_ids\": [[...], ...]} with rows of equal length; with named adapters"
              + " also \"adapter_names\": [NAME or \"__base__\", ...], one per row.")
  Path input;

  @Option(
      names = "--adapter",
      paramLabel = "DIR|NAME=DIR",
      description =
          "PEFT adapter directory (adapter_config.json + adapter_model.safetensors). Repeat as"
              + " NAME=DIR for a mixed batch in which each row runs with the adapter its"
              + " adapter_names entry names (PEFT's adapter_names), or with the base.")
  List<String> adapterArgs = new ArrayList<>();

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
    Map<String, PeftAdapter> named = namedAdapters();
    try (Checkpoint checkpoint = Checkpoint.open(model)) {
      int[][] ids = readIds(input);
      List<String> rowAdapters = readAdapterNames(input, ids.length, !named.isEmpty());
      CompiledModel.Logits logits;
      if (!named.isEmpty()) {
        try (MixedAdapters mixed = MixedAdapters.compile(checkpoint, named, options)) {
          mixed.model().checkInputs(ids);
          QuantizeOptions.report(mixed.model());
          logits = mixed.logits(ids, rowAdapters);
        }
      } else {
        logits = singleAdapterLogits(checkpoint, ids, options);
      }
      SafetensorsWriter.write(
          out,
          Map.of(
              "logits",
              SafetensorsWriter.TensorData.f32(
                  new long[] {logits.batch(), logits.time(), logits.vocab()}, logits.values())),
          Map.of());
      System.out.printf(
          "wrote logits [%d, %d, %d] to %s%n", logits.batch(), logits.time(), logits.vocab(), out);
    }
    return 0;
  }

  private CompiledModel.Logits singleAdapterLogits(
      Checkpoint checkpoint, int[][] ids, CompileOptions options) {
    PeftAdapter peft = adapterArgs.isEmpty() ? null : PeftAdapter.load(Path.of(adapterArgs.get(0)));
    List<LoraModuleSpec> specs =
        peft == null ? List.of() : peft.specsFor(checkpoint.architecture());
    try (CompiledModel compiled = ModelCompiler.compile(checkpoint, specs, options)) {
      compiled.checkInputs(ids);
      QuantizeOptions.report(compiled);
      if (peft != null) {
        peft.applyTo(compiled);
      }
      return compiled.logits(ids);
    }
  }

  /** NAME=DIR arguments in order; empty for one unnamed adapter (or none). */
  private Map<String, PeftAdapter> namedAdapters() {
    Map<String, PeftAdapter> named = new LinkedHashMap<>();
    boolean anyNamed = adapterArgs.stream().anyMatch(a -> a.contains("="));
    if (!anyNamed) {
      if (adapterArgs.size() > 1) {
        throw new CommandLine.ParameterException(
            spec.commandLine(),
            "--adapter is given "
                + adapterArgs.size()
                + " times without names; name each one (--adapter NAME=DIR) for a mixed batch");
      }
      return named;
    }
    for (String arg : adapterArgs) {
      int eq = arg.indexOf('=');
      if (eq <= 0 || eq == arg.length() - 1) {
        throw new CommandLine.ParameterException(
            spec.commandLine(),
            "--adapter '" + arg + "': with several adapters, give each as NAME=DIR");
      }
      String name = arg.substring(0, eq);
      if (named.put(name, PeftAdapter.load(Path.of(arg.substring(eq + 1)))) != null) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "--adapter: the name '" + name + "' is given twice");
      }
    }
    return named;
  }

  /**
   * The optional `adapter_names` list: one adapter name (or "__base__") per row. Required with
   * named adapters, refused without them.
   */
  static List<String> readAdapterNames(Path file, int rows, boolean required) {
    JsonElement names = JsonFields.parse(file).get("adapter_names");
    if (names == null) {
      if (required) {
        throw new CheckpointException(
            file
                + ": named adapters were given, so the input needs \"adapter_names\": one adapter"
                + " name (or \"__base__\") per row of input_ids");
      }
      return null;
    }
    if (!required) {
      throw new CheckpointException(
          file
              + ": has adapter_names, but no named adapters were given; load them with --adapter"
              + " NAME=DIR");
    }
    if (!(names instanceof JsonArray array) || array.size() != rows) {
      throw new CheckpointException(
          file
              + ": adapter_names must be a list of "
              + rows
              + " names (one per row), was "
              + names);
    }
    List<String> out = new ArrayList<>();
    for (int r = 0; r < rows; r++) {
      if (!(array.get(r) instanceof JsonPrimitive p) || !p.isString()) {
        throw new CheckpointException(
            file + ": adapter_names[" + r + "] must be a string, was " + array.get(r));
      }
      out.add(p.getContent());
    }
    return out;
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
