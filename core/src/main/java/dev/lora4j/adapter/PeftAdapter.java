package dev.lora4j.adapter;

import dev.lora4j.compile.AdapterModule;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.LoraTargets;
import dev.lora4j.dsl.peft.PeftConfigException;
import dev.lora4j.dsl.peft.PeftLoraConfig;
import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.DType;
import dev.lora4j.io.SafetensorsFile;
import dev.lora4j.io.TensorInfo;
import dev.lora4j.model.Architecture;
import dev.lora4j.model.Projection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

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
