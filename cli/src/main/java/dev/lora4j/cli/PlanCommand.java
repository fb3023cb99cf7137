package dev.lora4j.cli;

import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.LoraTargets;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.dsl.AdapterDefaults;
import dev.lora4j.dsl.LoraInit;
import dev.lora4j.dsl.LoraPlan;
import dev.lora4j.io.CheckpointException;
import dev.lora4j.model.Architecture;
import dev.lora4j.model.ModelConfig;
import dev.lora4j.model.Projection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `lora4j plan`: the dry run. Resolves targets against the architecture from config.json alone (no
 * weights are read) and prints what training would allocate.
 */
@Command(
    name = "plan",
    mixinStandardHelpOptions = true,
    description = {
      "Dry run: resolves the targets against the model's projections using only config.json and"
          + " prints the matched modules, trainable parameters, adapter size, optimizer state and an"
          + " estimate of training memory. No weights are read and nothing is allocated."
    })
final class PlanCommand implements Callable<Integer> {
  @Option(
      names = "--model",
      required = true,
      paramLabel = "DIR",
      description = "A checkpoint directory, or one with only config.json.")
  Path model;

  @picocli.CommandLine.Parameters(
      index = "0",
      arity = "0..1",
      paramLabel = "PLAN",
      description = "A plan file: plan.json or plan.lora.kts.")
  Path planArgument;

  @Option(
      names = "--plan",
      paramLabel = "FILE",
      description = "A plan file: plan.json or plan.lora.kts.")
  Path plan;

  @Option(
      names = "--target",
      paramLabel = "PATTERN",
      description = "Suffix, regex or all-linear, optionally with slices: c_attn[q,v]. Repeatable.")
  List<String> targets = new ArrayList<>();

  @Option(names = "--rank", defaultValue = "8", description = "Default: ${DEFAULT-VALUE}.")
  int rank;

  @Option(names = "--alpha", defaultValue = "16", description = "Default: ${DEFAULT-VALUE}.")
  double alpha;

  @Option(
      names = "--batch-size",
      description = "For the memory estimate. Default: the plan's batch size, else 8.")
  Integer batchSizeOption;

  @Option(
      names = "--seq-len",
      description =
          "For the memory estimate; must fit the model's positions. Default: the plan's seq_len,"
              + " else 128 (or the model's positions, if fewer).")
  Integer seqLenOption;

  @Option(names = "--json", description = "Print one JSON object.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    Path configFile = model.resolve("config.json");
    if (!Files.isRegularFile(configFile)) {
      throw new CheckpointException(
          model + ": no config.json; the dry run needs the model's config.json");
    }
    Architecture architecture = Architecture.of(ModelConfig.read(configFile));
    List<Projection> projections = architecture.projections();
    LoraPlan loraPlan;
    if (plan == null) {
      plan = planArgument;
    }
    if (plan != null) {
      loraPlan = Plans.load(plan);
    } else {
      LoraPlan.Builder builder =
          LoraPlan.builder(model.toString())
              .defaults(new AdapterDefaults(rank, alpha, 0.0, LoraInit.KAIMING_UNIFORM, false));
      if (targets.isEmpty()) {
        throw new IllegalArgumentException(
            "give --target PATTERN (e.g. c_attn[q,v]) or --plan FILE");
      }
      for (String t : targets) {
        builder.target(t);
      }
      loraPlan = builder.build();
    }
    int seqLen =
        seqLenOption != null
            ? seqLenOption
            : loraPlan.getData() != null
                ? loraPlan.getData().getSeqLen()
                : Math.min(128, architecture.config().maxPositions());
    int batchSize =
        batchSizeOption != null ? batchSizeOption : loraPlan.getTraining().getBatchSize();
    architecture.config().requireSeqLenFits(seqLen);
    List<LoraModuleSpec> specs = LoraTargets.fromPlan(loraPlan, projections);
    ModelCompiler.validate(architecture, specs);
    Map<String, Projection> byName = new LinkedHashMap<>();
    for (Projection p : projections) {
      byName.put(p.name(), p);
    }
    long trainable = 0;
    List<JsonElement> modules = new ArrayList<>();
    List<String> lines = new ArrayList<>();
    for (LoraModuleSpec spec : specs) {
      Projection p = byName.get(spec.module());
      long params = 0;
      int out = p.out();
      if (spec.sliced()) {
        out = 0;
        for (String s : spec.slices()) {
          out += p.slice(s).size();
        }
      }
      int parts = spec.sliced() ? spec.slices().size() : 1;
      params = (long) spec.rank() * p.in() * parts + (long) spec.rank() * out;
      trainable += params;
      Map<String, JsonElement> m = new LinkedHashMap<>();
      m.put("name", JsonElementKt.JsonPrimitive(spec.module()));
      m.put("in", JsonElementKt.JsonPrimitive(p.in()));
      m.put("out", JsonElementKt.JsonPrimitive(p.out()));
      m.put("rank", JsonElementKt.JsonPrimitive(spec.rank()));
      m.put("scale", JsonElementKt.JsonPrimitive(spec.scale()));
      m.put(
          "slices",
          new JsonArray(
              spec.slices().stream()
                  .map(s -> (JsonElement) JsonElementKt.JsonPrimitive(s))
                  .toList()));
      m.put("params", JsonElementKt.JsonPrimitive(params));
      modules.add(new JsonObject(m));
      lines.add(
          String.format(
              Locale.ROOT,
              "  %-44s in %6d out %6d rank %3d%s  %,12d params",
              spec.module(),
              p.in(),
              p.out(),
              spec.rank(),
              spec.sliced() ? " " + spec.slices() : "",
              params));
    }
    long base = architecture.parameterCount();
    long adapterBytes = 4 * trainable + 8 + 128L * 2 * specs.size();
    long optimizerBytes = 8 * trainable;
    ModelConfig config = architecture.config();
    // Frozen weights, adapters with their gradients and AdamW moments, and activations kept for
    // the backward pass (~ 34 floats per token per hidden unit per layer, plus the logits).
    long activations =
        (long) batchSize
            * seqLen
            * ((long) config.numLayers() * config.hiddenSize() * 34 + 2L * config.vocabSize())
            * 4;
    long estimate = 4 * base + 16 * trainable + activations;
    if (json) {
      Map<String, JsonElement> o = new LinkedHashMap<>();
      o.put("model_type", JsonElementKt.JsonPrimitive(config.modelType()));
      o.put("trainable_params", JsonElementKt.JsonPrimitive(trainable));
      o.put("base_params", JsonElementKt.JsonPrimitive(base));
      o.put("trainable_percent", JsonElementKt.JsonPrimitive(100.0 * trainable / base));
      o.put("adapter_bytes", JsonElementKt.JsonPrimitive(adapterBytes));
      o.put("optimizer_state_bytes", JsonElementKt.JsonPrimitive(optimizerBytes));
      o.put("training_memory_estimate_bytes", JsonElementKt.JsonPrimitive(estimate));
      o.put("modules", new JsonArray(modules));
      System.out.println(new JsonObject(o));
    } else {
      System.out.printf(Locale.ROOT, "%s: %d adapted modules%n", config.modelType(), specs.size());
      lines.forEach(System.out::println);
      System.out.printf(
          Locale.ROOT,
          "trainable parameters  %,d of %,d (%.4f%%)%n",
          trainable,
          base,
          100.0 * trainable / base);
      System.out.printf(Locale.ROOT, "adapter on disk       ~%,d bytes (float32)%n", adapterBytes);
      System.out.printf(
          Locale.ROOT,
          "optimizer state      %,d bytes (AdamW: two moments per trainable parameter)%n",
          optimizerBytes);
      System.out.printf(
          Locale.ROOT,
          "training memory      ~%.1f MB estimated (frozen weights, adapters, moments, activations at batch %d x seq %d; the JVM and TensorFlow add ~300 MB)%n",
          estimate / 1048576.0,
          batchSize,
          seqLen);
    }
    return 0;
  }
}
