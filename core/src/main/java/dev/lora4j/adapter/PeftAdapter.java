package dev.lora4j.adapter;

import dev.lora4j.compile.AdapterModule;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.LoraTargets;
import dev.lora4j.compile.WeightVariable;
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

  /**
   * Safetensors metadata key recording which modules were trained as slice adapters, e.g.
   * `transformer.h.0.attn.c_attn=q,v;transformer.h.1.attn.c_attn=q,v`. PEFT ignores it (it reads
   * the whole-module factors); lora4j uses it to read such an adapter back as the slice adapter it
   * was.
   */
  static final String SLICES_METADATA = "lora4j.slices";

  private static final System.Logger LOG = System.getLogger(PeftAdapter.class.getName());

  private final Path dir;
  private final PeftLoraConfig config;
  private final Map<String, LoraFactors> modules;
  private final Map<String, List<String>> slices;

  private PeftAdapter(
      Path dir,
      PeftLoraConfig config,
      Map<String, LoraFactors> modules,
      Map<String, List<String>> slices) {
    this.dir = dir;
    this.config = config;
    this.modules = modules;
    this.slices = Map.copyOf(slices);
  }

  public Path dir() {
    return dir;
  }

  public PeftLoraConfig config() {
    return config;
  }

  /**
   * Factors by module path (`transformer.h.0.attn.c_attn`), sorted by name; always whole-module (a
   * slice adapter's factors in their equivalent whole-module form).
   */
  public Map<String, LoraFactors> modules() {
    return modules;
  }

  /**
   * The slices each module was trained on as a slice adapter (recorded by lora4j when it saved the
   * adapter), e.g. `c_attn` → [q, v]; empty for adapters trained on whole modules.
   */
  public Map<String, List<String>> slices() {
    return slices;
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
    Map<String, List<String>> slices;
    try (SafetensorsFile file = SafetensorsFile.open(weightsFile)) {
      slices = parseSlices(file.metadata().get(SLICES_METADATA), weightsFile);
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
    for (Map.Entry<String, List<String>> e : slices.entrySet()) {
      LoraFactors f = modules.get(e.getKey());
      if (f == null || f.rank() % e.getValue().size() != 0) {
        throw new CheckpointException(
            weightsFile
                + ": metadata '"
                + SLICES_METADATA
                + "' says module '"
                + e.getKey()
                + "' was trained on slices "
                + e.getValue()
                + ", but "
                + (f == null
                    ? "the file holds no factors for it"
                    : "its rank " + f.rank() + " is not a multiple of " + e.getValue().size())
                + "; remove the metadata entry to read the module as a whole-module adapter");
      }
    }
    return new PeftAdapter(dir, config, modules, slices);
  }

  /** `module=q,v;module=q,v` → {module: [q, v]}; null → empty. */
  private static Map<String, List<String>> parseSlices(String value, Path file) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    if (value == null || value.isBlank()) {
      return out;
    }
    for (String entry : value.split(";")) {
      int eq = entry.indexOf('=');
      List<String> names =
          eq < 0 ? List.of() : Arrays.stream(entry.substring(eq + 1).split(",")).toList();
      if (eq <= 0 || names.isEmpty() || names.stream().anyMatch(String::isBlank)) {
        throw new CheckpointException(
            file
                + ": metadata '"
                + SLICES_METADATA
                + "' has entry '"
                + entry
                + "'; expected module=slice,slice (e.g. transformer.h.0.attn.c_attn=q,v)");
      }
      out.put(entry.substring(0, eq), names);
    }
    return out;
  }

  private static String formatSlices(Map<String, List<String>> slices) {
    StringBuilder out = new StringBuilder();
    for (Map.Entry<String, List<String>> e : slices.entrySet()) {
      out.append(out.length() == 0 ? "" : ";")
          .append(e.getKey())
          .append('=')
          .append(String.join(",", e.getValue()));
    }
    return out.toString();
  }

  /**
   * The module specs this adapter needs on a model, as it was trained: a module lora4j saved from a
   * slice adapter (q and v of GPT-2's c_attn) comes back as that slice adapter, rank r per slice,
   * so training it further keeps the other slices untouched. Checked against the model's
   * projections like {@link #wholeModuleSpecsFor}.
   */
  public List<LoraModuleSpec> specsFor(Architecture architecture) {
    List<LoraModuleSpec> whole = wholeModuleSpecsFor(architecture);
    if (slices.isEmpty()) {
      return whole;
    }
    Map<String, Projection> byName = new LinkedHashMap<>();
    for (Projection p : architecture.projections()) {
      byName.put(p.name(), p);
    }
    List<LoraModuleSpec> out = new ArrayList<>();
    for (LoraModuleSpec spec : whole) {
      List<String> names = slices.get(spec.module());
      String problem =
          names == null ? null : sliceProblem(byName.get(spec.module()), names, spec.module());
      if (names == null || problem != null) {
        if (problem != null) {
          LOG.log(
              System.Logger.Level.WARNING,
              dir.resolve(WEIGHTS_FILE)
                  + ": "
                  + problem
                  + "; reading "
                  + spec.module()
                  + " as a whole-module adapter (same outputs)");
        }
        out.add(spec);
        continue;
      }
      int rank = spec.rank() / names.size();
      double alpha = spec.rsLora() ? spec.scale() * Math.sqrt(rank) : spec.scale() * rank;
      out.add(
          new LoraModuleSpec(
              spec.module(),
              rank,
              alpha,
              spec.scale(),
              spec.dropout(),
              spec.init(),
              names,
              spec.rsLora()));
    }
    return out;
  }

  /**
   * Why the stored factors of a module are not the slice adapter the metadata says (a slice that
   * does not exist, B not zero outside the slices' blocks, e.g. after PEFT trained it further as a
   * whole module), or null if they are.
   */
  private String sliceProblem(Projection p, List<String> names, String module) {
    LoraFactors f = modules.get(module);
    int rank = f.rank() / names.size();
    boolean[] rowSeen = new boolean[f.out()];
    for (int k = 0; k < names.size(); k++) {
      Projection.Slice slice = p.slice(names.get(k));
      if (slice == null) {
        return "metadata says "
            + module
            + " was trained on slice '"
            + names.get(k)
            + "', which this model's projection does not have";
      }
      for (int row = slice.offset(); row < slice.offset() + slice.size(); row++) {
        rowSeen[row] = true;
        for (int c = 0; c < f.rank(); c++) {
          if ((c / rank != k) && f.b()[row * f.rank() + c] != 0f) {
            return "B of " + module + " is not block-diagonal over slices " + names;
          }
        }
      }
    }
    for (int row = 0; row < f.out(); row++) {
      for (int c = 0; !rowSeen[row] && c < f.rank(); c++) {
        if (f.b()[row * f.rank() + c] != 0f) {
          return "B of " + module + " is not zero outside slices " + names;
        }
      }
    }
    return null;
  }

  /**
   * The module specs this adapter needs on a model in whole-module form (a slice adapter as its
   * equivalent rank n·r adapter), checked against the model's projections: every stored module must
   * be a projection selected by the config, with shapes that fit.
   */
  public List<LoraModuleSpec> wholeModuleSpecsFor(Architecture architecture) {
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
    List<WeightVariable> factors = new ArrayList<>();
    for (AdapterModule module : model.adapters().values()) {
      for (AdapterModule.Part part : module.parts()) {
        factors.add(part.a());
        factors.add(part.b());
      }
    }
    java.util.Iterator<float[]> values = model.read(factors).iterator(); // in that order
    for (AdapterModule module : model.adapters().values()) {
      Projection p = byName.get(module.spec().module());
      int partRank = module.spec().rank();
      int rank = partRank * module.parts().size();
      float[] a = new float[rank * p.in()];
      float[] b = new float[p.out() * rank];
      int k = 0;
      for (AdapterModule.Part part : module.parts()) {
        float[] partA = values.next();
        float[] partB = values.next(); // [size, r]
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
    Map<String, List<String>> slices = new LinkedHashMap<>();
    for (AdapterModule module : model.adapters().values()) {
      if (module.spec().sliced()) {
        slices.put(module.spec().module(), module.spec().slices());
      }
    }
    return write(dir, factors, scales, rsLora, conv1d, dropout, baseModelName, slices);
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
    return write(dir, factors, scales, rsLora, fanInFanOut, dropout, baseModelName, Map.of());
  }

  /**
   * As {@link #write(Path, Map, Map, boolean, boolean, double, String)}, recording in the weights'
   * metadata which modules hold a slice adapter (in whole-module form) so lora4j reads them back as
   * slice adapters.
   */
  public static PeftAdapter write(
      Path dir,
      Map<String, LoraFactors> factors,
      Map<String, Double> scales,
      boolean rsLora,
      boolean fanInFanOut,
      double dropout,
      String baseModelName,
      Map<String, List<String>> slices) {
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
    SafetensorsWriter.write(
        dir.resolve(WEIGHTS_FILE),
        tensors,
        slices.isEmpty() ? Map.of() : Map.of(SLICES_METADATA, formatSlices(slices)));
    AtomicFiles.writeString(dir.resolve(CONFIG_FILE), config.toJson());
    return new PeftAdapter(dir, config, factors, slices);
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

  /**
   * Copies the factors into a model compiled with {@link #specsFor}'s or {@link
   * #wholeModuleSpecsFor}'s specs; a slice adapter's blocks go into the model's slice parts.
   */
  public void applyTo(CompiledModel model) {
    // Staged, then written a group per session run (CompiledModel#assign(List, List)).
    List<WeightVariable> variables = new ArrayList<>();
    List<float[]> values = new ArrayList<>();
    for (LoraFactors f : modules.values()) {
      AdapterModule module = model.adapters().get(f.module());
      if (module != null && module.spec().sliced()) {
        stageSlices(module, f, variables, values);
        continue;
      }
      if (module == null || module.parts().size() != 1 || module.parts().get(0).slice() != null) {
        throw new IllegalArgumentException(
            "the model has no whole-module adapter on '"
                + f.module()
                + "'; compile it with this adapter's specsFor(...)");
      }
      AdapterModule.Part part = module.parts().get(0);
      variables.addAll(List.of(part.a(), part.b()));
      values.addAll(List.of(f.a(), f.b()));
    }
    model.assign(variables, values);
  }

  /** Part k takes A's rows [k r, (k+1) r) and B's block of its output rows and those columns. */
  private void stageSlices(
      AdapterModule module, LoraFactors f, List<WeightVariable> variables, List<float[]> values) {
    int rank = module.spec().rank();
    if (!module.spec().slices().equals(slices.get(f.module()))) {
      throw new IllegalArgumentException(
          "the model adapts slices "
              + module.spec().slices()
              + " of '"
              + f.module()
              + "', the adapter "
              + (slices.containsKey(f.module())
                  ? "was trained on slices " + slices.get(f.module())
                  : "adapts the whole module")
              + "; compile the model with this adapter's specsFor(...)");
    }
    int k = 0;
    for (AdapterModule.Part part : module.parts()) {
      float[] a = Arrays.copyOfRange(f.a(), k * rank * f.in(), (k + 1) * rank * f.in());
      float[] b = new float[part.size() * rank];
      for (int row = 0; row < part.size(); row++) {
        System.arraycopy(f.b(), (part.offset() + row) * f.rank() + k * rank, b, row * rank, rank);
      }
      variables.addAll(List.of(part.a(), part.b()));
      values.addAll(List.of(a, b));
      k++;
    }
  }
}
