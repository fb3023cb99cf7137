package dev.lora4j.adapter;

import dev.lora4j.compile.AdapterModule;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.WeightVariable;
import dev.lora4j.model.Architecture;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Several named adapters on one compiled model. The graph holds one set of adapter slots big enough
 * for all of them (the union of their modules, the largest rank per module); activating an adapter
 * copies its factors into the slots (smaller ranks padded with zeros, which add nothing) and sets
 * each module's scale, so switching adapters, or back to the base, never rebuilds the graph or
 * reloads the base weights.
 */
public final class AdapterSet {
  private final CompiledModel model;
  private final Map<String, PeftAdapter> adapters = new LinkedHashMap<>();
  private String active;

  public AdapterSet(CompiledModel model) {
    this.model = model;
  }

  /** Specs with room for every adapter: the union of their modules, the largest rank of each. */
  public static List<LoraModuleSpec> capacity(Architecture architecture, List<PeftAdapter> all) {
    Map<String, LoraModuleSpec> union = new LinkedHashMap<>();
    for (PeftAdapter adapter : all) {
      for (LoraModuleSpec spec : adapter.wholeModuleSpecsFor(architecture)) {
        LoraModuleSpec seen = union.get(spec.module());
        if (seen == null || spec.rank() > seen.rank()) {
          union.put(spec.module(), spec);
        }
      }
    }
    List<LoraModuleSpec> ordered = new ArrayList<>();
    for (var p : architecture.projections()) {
      if (union.containsKey(p.name())) {
        ordered.add(union.get(p.name()));
      }
    }
    return ordered;
  }

  /** Registers an adapter under a name; checks that the compiled slots can hold it. */
  public void add(String name, PeftAdapter adapter) {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("an adapter needs a non-empty name");
    }
    List<LoraModuleSpec> specs = adapter.wholeModuleSpecsFor(model.architecture());
    for (LoraModuleSpec spec : specs) {
      AdapterModule slot = model.adapters().get(spec.module());
      if (slot == null || slot.parts().size() != 1 || slot.parts().get(0).slice() != null) {
        throw new IllegalArgumentException(
            "adapter '"
                + name
                + "' adapts "
                + spec.module()
                + ", which this model has no"
                + " whole-module slot for; compile it with AdapterSet.capacity(...) over all the"
                + " adapters you will load");
      }
      long capacity = slot.parts().get(0).a().shape()[0];
      if (spec.rank() > capacity) {
        throw new IllegalArgumentException(
            "adapter '"
                + name
                + "' has rank "
                + spec.rank()
                + " on "
                + spec.module()
                + ", the model's slot holds rank "
                + capacity
                + "; compile with"
                + " AdapterSet.capacity(...) over all the adapters");
      }
    }
    adapters.put(name, adapter);
  }

  public List<String> names() {
    return List.copyOf(adapters.keySet());
  }

  /** The active adapter's name, or null for the base model. */
  public String active() {
    return active;
  }

  /** Makes a registered adapter the one the model runs with. */
  public void activate(String name) {
    PeftAdapter adapter = adapters.get(name);
    if (adapter == null) {
      throw new IllegalArgumentException(
          "no adapter named '" + name + "'; loaded: " + adapters.keySet());
    }
    Map<String, LoraModuleSpec> specs = new LinkedHashMap<>();
    for (LoraModuleSpec spec : adapter.wholeModuleSpecsFor(model.architecture())) {
      specs.put(spec.module(), spec);
    }
    // Staged and written in one session run per group, not one per variable (see
    // CompiledModel#assign(List, List)).
    List<WeightVariable> variables = new ArrayList<>();
    List<float[]> values = new ArrayList<>();
    for (AdapterModule module : model.adapters().values()) {
      AdapterModule.Part slot = module.parts().get(0);
      LoraModuleSpec spec = specs.get(module.spec().module());
      if (spec == null) {
        variables.add(slot.scale()); // this adapter leaves the module alone
        values.add(new float[] {0f});
        continue;
      }
      LoraFactors f = adapter.modules().get(spec.module());
      int capacity = (int) slot.a().shape()[0];
      float[] a = new float[capacity * f.in()];
      System.arraycopy(f.a(), 0, a, 0, f.a().length);
      float[] b = new float[f.out() * capacity];
      for (int row = 0; row < f.out(); row++) {
        System.arraycopy(f.b(), row * f.rank(), b, row * capacity, f.rank());
      }
      variables.addAll(List.of(slot.a(), slot.b(), slot.scale()));
      values.addAll(List.of(a, b, new float[] {(float) spec.scale()}));
    }
    model.assign(variables, values);
    active = name;
  }

  /** Switches every adapter off: the model computes the base model's outputs exactly. */
  public void activateBase() {
    List<WeightVariable> scales = new ArrayList<>();
    List<float[]> zeros = new ArrayList<>();
    for (AdapterModule module : model.adapters().values()) {
      for (AdapterModule.Part part : module.parts()) {
        scales.add(part.scale());
        zeros.add(new float[] {0f});
      }
    }
    model.assign(scales, zeros);
    active = null;
  }
}
