package dev.lora4j.adapter;

import dev.lora4j.compile.AdapterModule;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.LoraTargets;
import dev.lora4j.dsl.peft.PeftConfigException;
import dev.lora4j.dsl.peft.PeftLoraConfig;
import dev.lora4j.dsl.peft.TargetModules;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.DType;
import dev.lora4j.io.SafetensorsFile;
import dev.lora4j.io.SafetensorsWriter;
import dev.lora4j.io.TensorInfo;
import dev.lora4j.model.Architecture;
import dev.lora4j.model.Projection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import kotlinx.serialization.json.JsonElementKt;

/**
 * A LoRA adapter in Hugging Face PEFT's layout: `adapter_config.json` plus
 * `adapter_model.safetensors` with keys `base_model.model.<module>.lora_A.weight` [r, in] and
 * `.lora_B.weight` [out, r].
 */
public final class PeftAdapter {
  public static final String CONFIG_FILE = "adapter_config.json";
  public static final String WEIGHTS_FILE = "adapter_model.safetensors";
  static final String KEY_PREFIX = "base_model.model.";

  private final Path dir;
  private final PeftLoraConfig config;
  private final Map<String, LoraFactors> modules;

  private PeftAdapter(Path dir, PeftLoraConfig config, Map<String, LoraFactors> modules) {
    this.dir = dir;
    this.config = config;
    this.modules = modules;
  }

  public Path dir() {
    return dir;
  }

  public PeftLoraConfig config() {
    return config;
  }

  /** Factors by module path (`transformer.h.0.attn.c_attn`), sorted by name. */
  public Map<String, LoraFactors> modules() {
    return modules;
  }

  /** Reads an adapter directory; checks pairs and rank consistency, not yet the model's shapes. */
  public static PeftAdapter load(Path dir) {
    Path configFile = dir.resolve(CONFIG_FILE);
    Path weightsFile = dir.resolve(WEIGHTS_FILE);
    if (!Files.isRegularFile(configFile)) {
      throw new CheckpointException(
          dir
              + ": no "
              + CONFIG_FILE
              + "; a PEFT adapter directory holds "
              + CONFIG_FILE
              + " and "
              + WEIGHTS_FILE);
    }
    if (!Files.isRegularFile(weightsFile)) {
      throw new CheckpointException(
          dir
              + ": no "
              + WEIGHTS_FILE
              + " (adapter_model.bin is not read: save the adapter"
              + " with safe_serialization=True)");
    }
    PeftLoraConfig config;
    try {
      config = PeftLoraConfig.fromJson(Files.readString(configFile), configFile.toString());
    } catch (IOException e) {
      throw new CheckpointException(configFile + ": cannot read: " + e.getMessage(), e);
    }
    if (config.getUseDora()) {
      throw new PeftConfigException(
          configFile
              + ": use_dora is true; DoRA adapters"
              + " (lora_magnitude_vector) are not supported by lora4j yet, only plain LoRA");
    }
    Map<String, float[]> as = new TreeMap<>();
    Map<String, float[]> bs = new TreeMap<>();
    Map<String, long[]> aShapes = new TreeMap<>();
    Map<String, long[]> bShapes = new TreeMap<>();
    try (SafetensorsFile file = SafetensorsFile.open(weightsFile)) {
      for (TensorInfo t : file.tensors()) {
        String key = t.name();
        if (key.endsWith(".lora_magnitude_vector") || key.contains(".lora_magnitude_vector.")) {
          throw new CheckpointException(
              weightsFile
                  + ": tensor '"
                  + key
                  + "' is a DoRA magnitude"
                  + " vector; DoRA adapters are not supported by lora4j yet, only plain LoRA");
        }
        boolean isA = key.endsWith(".lora_A.weight");
        boolean isB = key.endsWith(".lora_B.weight");
        if (!key.startsWith(KEY_PREFIX) || !(isA || isB)) {
          throw new CheckpointException(
              weightsFile
                  + ": tensor '"
                  + key
                  + "' is not a LoRA factor;"
                  + " keys must look like base_model.model.<module>.lora_A.weight / .lora_B.weight"
                  + " (modules_to_save and bias weights are not supported)");
        }
        if (t.shape().length != 2
            || (t.dtype() != DType.F32 && t.dtype() != DType.BF16 && t.dtype() != DType.F16)) {
          throw new CheckpointException(
              weightsFile
                  + ": tensor '"
                  + key
                  + "' must be a 2-D float"
                  + " matrix, has dtype "
                  + t.dtype()
                  + " and shape "
                  + Arrays.toString(t.shape()));
        }
        String module =
            key.substring(KEY_PREFIX.length(), key.length() - ".lora_A.weight".length());
        (isA ? as : bs).put(module, file.floats(key));
        (isA ? aShapes : bShapes).put(module, t.shape());
      }
    }
    Map<String, LoraFactors> modules = new LinkedHashMap<>();
    for (String module : as.keySet()) {
      if (!bs.containsKey(module)) {
        throw new CheckpointException(
            weightsFile
                + ": module '"
                + module
                + "' has lora_A but no"
                + " lora_B; the file is incomplete");
      }
      long[] a = aShapes.get(module);
      long[] b = bShapes.get(module);
      if (a[0] != b[1]) {
        throw new CheckpointException(
            weightsFile
                + ": module '"
                + module
                + "' has lora_A "
                + Arrays.toString(a)
                + " and lora_B "
                + Arrays.toString(b)
                + "; A's rows and B's"
                + " columns must both be the rank");
      }
      int expectedRank = config.rankFor(module);
      if (a[0] != expectedRank) {
        throw new CheckpointException(
            weightsFile
                + ": module '"
                + module
                + "' has rank "
                + a[0]
                + " but "
                + CONFIG_FILE
                + " gives it r = "
                + expectedRank
                + " (r or rank_pattern); the config does not belong to these weights");
      }
      modules.put(
          module,
          new LoraFactors(
              module, (int) a[0], (int) a[1], (int) b[0], as.get(module), bs.get(module)));
    }
    for (String module : bs.keySet()) {
      if (!as.containsKey(module)) {
        throw new CheckpointException(
            weightsFile
                + ": module '"
                + module
                + "' has lora_B but no"
                + " lora_A; the file is incomplete");
      }
    }
    if (modules.isEmpty()) {
      throw new CheckpointException(weightsFile + ": holds no LoRA factors");
    }
    return new PeftAdapter(dir, config, modules);
  }

  /**
   * The module specs this adapter needs on a model, checked against the model's projections: every
   * stored module must be a projection selected by the config, with shapes that fit.
   */
  public List<LoraModuleSpec> specsFor(Architecture architecture) {
    List<Projection> projections = architecture.projections();
    Map<String, Projection> byName = new LinkedHashMap<>();
    for (Projection p : projections) {
      byName.put(p.name(), p);
    }
    for (LoraFactors f : modules.values()) {
      Projection p = byName.get(f.module());
      Path weights = dir.resolve(WEIGHTS_FILE);
      if (p == null) {
        throw new CheckpointException(
            weights
                + ": key '"
                + KEY_PREFIX
                + f.module()
                + ".lora_A.weight' names module '"
                + f.module()
                + "', which this "
                + architecture.config().modelType()
                + " model does not have; the adapter was trained"
                + " for another architecture. "
                + LoraTargets.describeNames(projections, f.module()));
      }
      checkShape(
          weights,
          f.module() + ".lora_A.weight",
          new long[] {f.rank(), f.in()},
          new long[] {f.rank(), p.in()});
      checkShape(
          weights,
          f.module() + ".lora_B.weight",
          new long[] {f.out(), f.rank()},
          new long[] {p.out(), f.rank()});
    }
    List<LoraModuleSpec> specs = LoraTargets.resolve(config, projections);
    for (LoraModuleSpec spec : specs) {
      if (!modules.containsKey(spec.module())) {
        throw new CheckpointException(
            dir.resolve(WEIGHTS_FILE)
                + ": target_modules "
                + config.getTargetModules()
                + " selects '"
                + spec.module()
                + "' on this model, but"
                + " the file holds no factors for it; the adapter was trained for another model size");
      }
    }
    if (specs.size() != modules.size()) {
      for (String module : modules.keySet()) {
        if (specs.stream().noneMatch(s -> s.module().equals(module))) {
          throw new CheckpointException(
              dir.resolve(WEIGHTS_FILE)
                  + ": holds factors for '"
                  + module
                  + "', which target_modules "
                  + config.getTargetModules()
                  + " does not select");
        }
      }
    }
    return specs;
  }

  private static void checkShape(Path file, String key, long[] found, long[] expected) {
    if (!Arrays.equals(found, expected)) {
      throw new CheckpointException(
          file
              + ": tensor '"
              + KEY_PREFIX
              + key
              + "' has shape "
              + Arrays.toString(found)
              + " but the model needs "
              + Arrays.toString(expected)
              + "; the adapter was trained for a model of another size");
    }
  }

  /**
   * The adapter a compiled model holds now, as PEFT factors. A slice adapter on a fused projection
   * (GPT-2's c_attn q and v, each rank r) becomes the equivalent whole-module adapter PEFT can
   * load: A stacks the slices' A ([n r, in]), B is block-diagonal on the adapted output rows and
   * zero on the others ([out, n r]), and alpha is chosen so the scale stays the same.
   */
  public static Map<String, LoraFactors> factorsOf(CompiledModel model) {
    Map<String, LoraFactors> out = new LinkedHashMap<>();
    Map<String, Projection> byName = new LinkedHashMap<>();
    for (Projection p : model.architecture().projections()) {
      byName.put(p.name(), p);
    }
    for (AdapterModule module : model.adapters().values()) {
      Projection p = byName.get(module.spec().module());
      int partRank = module.spec().rank();
      int rank = partRank * module.parts().size();
      float[] a = new float[rank * p.in()];
      float[] b = new float[p.out() * rank];
      int k = 0;
      for (AdapterModule.Part part : module.parts()) {
        float[] partA = model.read(part.a());
        float[] partB = model.read(part.b()); // [size, r]
        System.arraycopy(partA, 0, a, k * partRank * p.in(), partA.length);
        for (int row = 0; row < part.size(); row++) {
          System.arraycopy(
              partB, row * partRank, b, (part.offset() + row) * rank + k * partRank, partRank);
        }
        k++;
      }
      out.put(p.name(), new LoraFactors(p.name(), rank, p.in(), p.out(), a, b));
    }
    return out;
  }

  /**
   * Writes the model's adapter as a PEFT directory (adapter_config.json +
   * adapter_model.safetensors), each file atomically. Ranks and alphas that differ from the most
   * common ones go into rank_pattern / alpha_pattern, keyed by the escaped module path.
   *
   * @param baseModelName written as base_model_name_or_path
   */
  public static PeftAdapter save(CompiledModel model, Path dir, String baseModelName) {
    Map<String, LoraFactors> factors = factorsOf(model);
    if (factors.isEmpty()) {
      throw new IllegalArgumentException("the model has no adapter to save");
    }
    boolean rsLora = model.adapters().values().stream().anyMatch(m -> m.spec().rsLora());
    Map<String, Double> scales = new LinkedHashMap<>();
    for (AdapterModule module : model.adapters().values()) {
      scales.put(module.spec().module(), module.spec().scale());
    }
    boolean conv1d =
        model.architecture().projections().stream()
            .anyMatch(p -> p.layout() == Projection.Layout.CONV1D);
    double dropout = model.adapters().values().iterator().next().spec().dropout();
    return write(dir, factors, scales, rsLora, conv1d, dropout, baseModelName);
  }

  /**
   * Writes factors and their scales as a PEFT directory. PEFT recomputes each scale from r and
   * alpha, so alpha is chosen to give the same scale; values that differ from the most common ones
   * go into rank_pattern / alpha_pattern, keyed by the escaped module path.
   */
  public static PeftAdapter write(
      Path dir,
      Map<String, LoraFactors> factors,
      Map<String, Double> scales,
      boolean rsLora,
      boolean fanInFanOut,
      double dropout,
      String baseModelName) {
    Map<String, Double> alphas = new LinkedHashMap<>();
    Map<String, Integer> ranks = new LinkedHashMap<>();
    for (LoraFactors f : factors.values()) {
      double scale = scales.get(f.module());
      ranks.put(f.module(), f.rank());
      alphas.put(f.module(), rsLora ? scale * Math.sqrt(f.rank()) : scale * f.rank());
    }
    int commonRank = mostCommon(ranks.values());
    double commonAlpha = mostCommon(alphas.values());
    Map<String, Integer> rankPattern = new LinkedHashMap<>();
    Map<String, Double> alphaPattern = new LinkedHashMap<>();
    for (String module : ranks.keySet()) {
      String key = module.replace(".", "\\.");
      if (ranks.get(module) != commonRank) {
        rankPattern.put(key, ranks.get(module));
      }
      if (!alphas.get(module).equals(commonAlpha)) {
        alphaPattern.put(key, alphas.get(module));
      }
    }
    PeftLoraConfig config =
        new PeftLoraConfig(
            "LORA",
            "CAUSAL_LM",
            baseModelName,
            commonRank,
            commonAlpha,
            dropout,
            TargetModules.names(new ArrayList<>(factors.keySet())),
            null,
            fanInFanOut,
            "none",
            rsLora,
            false,
            JsonElementKt.JsonPrimitive(true),
            null,
            rankPattern,
            alphaPattern,
            null,
            null,
            true);
    Map<String, SafetensorsWriter.TensorData> tensors = new LinkedHashMap<>();
    for (LoraFactors f : factors.values()) {
      tensors.put(
          KEY_PREFIX + f.module() + ".lora_A.weight",
          SafetensorsWriter.TensorData.f32(new long[] {f.rank(), f.in()}, f.a()));
      tensors.put(
          KEY_PREFIX + f.module() + ".lora_B.weight",
          SafetensorsWriter.TensorData.f32(new long[] {f.out(), f.rank()}, f.b()));
    }
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new CheckpointException(
          dir + ": cannot create the adapter directory: " + e.getMessage(), e);
    }
    SafetensorsWriter.write(dir.resolve(WEIGHTS_FILE), tensors, Map.of());
    AtomicFiles.writeString(dir.resolve(CONFIG_FILE), config.toJson());
    return new PeftAdapter(dir, config, factors);
  }

  private static <T> T mostCommon(java.util.Collection<T> values) {
    Map<T, Integer> counts = new LinkedHashMap<>();
    for (T v : values) {
      counts.merge(v, 1, Integer::sum);
    }
    T best = null;
    int bestCount = -1;
    for (Map.Entry<T, Integer> e : counts.entrySet()) {
      if (e.getValue() > bestCount) {
        best = e.getKey();
        bestCount = e.getValue();
      }
    }
    return best;
  }

  /** Copies the factors into a model compiled with {@link #specsFor}'s specs. */
  public void applyTo(CompiledModel model) {
    for (LoraFactors f : modules.values()) {
      AdapterModule module = model.adapters().get(f.module());
      if (module == null || module.parts().size() != 1 || module.parts().get(0).slice() != null) {
        throw new IllegalArgumentException(
            "the model has no whole-module adapter on '"
                + f.module()
                + "'; compile it with this adapter's specsFor(...)");
      }
      AdapterModule.Part part = module.parts().get(0);
      model.assign(part.a(), f.a());
      model.assign(part.b(), f.b());
    }
  }
}
