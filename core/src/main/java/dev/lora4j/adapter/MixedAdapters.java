package dev.lora4j.adapter;

import dev.lora4j.compile.AdapterModule;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.compile.WeightVariable;
import dev.lora4j.model.Architecture;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.model.Projection;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Mixed-adapter batches, as PEFT's {@code adapter_names}: one forward pass in which each row runs
 * with an adapter of its own, or with the base. Every adapter is resident at once: on each module
 * their ranks are stacked in one (A, B) pair, and a per-row routing factor keeps the components of
 * the row's adapter (times its scale) and zeroes the others'. A row that names the base gets
 * exactly the base model's output; a row that names an adapter gets that adapter's output (equal to
 * the adapter alone up to float32 rounding of the stacked products).
 */
public final class MixedAdapters implements AutoCloseable {
  /** The name a row gives to run with the base model (PEFT's {@code "__base__"}). */
  public static final String BASE = "__base__";

  private final CompiledModel model;
  private final Map<String, Integer> seats = new LinkedHashMap<>();

  private MixedAdapters(CompiledModel model, Map<String, PeftAdapter> adapters) {
    this.model = model;
    int seat = 1;
    for (String name : adapters.keySet()) {
      seats.put(name, seat++);
    }
    load(adapters);
  }

  /**
   * Compiles the checkpoint with room for every adapter side by side and loads them all.
   *
   * @param adapters by name, in seat order; names are what the rows of a batch give
   */
  public static MixedAdapters compile(
      Checkpoint checkpoint, Map<String, PeftAdapter> adapters, CompileOptions options) {
    if (adapters.isEmpty()) {
      throw new IllegalArgumentException("a mixed batch needs at least one adapter");
    }
    for (String name : adapters.keySet()) {
      if (name == null || name.isBlank() || name.equals(BASE)) {
        throw new IllegalArgumentException(
            "adapter name '"
                + name
                + "' is not usable: give each adapter a non-empty name other than "
                + BASE
                + ", which rows use for the base model");
      }
    }
    List<LoraModuleSpec> specs = capacity(checkpoint.architecture(), adapters);
    CompiledModel model =
        ModelCompiler.compile(checkpoint, specs, options.withAdapterSeats(adapters.size()));
    try {
      return new MixedAdapters(model, adapters);
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /**
   * Whole-module slots for adapters side by side: the union of their modules, each with the sum of
   * the ranks the adapters have there. Fails, naming the module and the adapters, where the stacked
   * rank would exceed min(in, out).
   */
  static List<LoraModuleSpec> capacity(Architecture architecture, Map<String, PeftAdapter> all) {
    Map<String, Integer> ranks = new LinkedHashMap<>();
    Map<String, List<String>> owners = new LinkedHashMap<>();
    for (Map.Entry<String, PeftAdapter> e : all.entrySet()) {
      for (LoraModuleSpec spec : e.getValue().wholeModuleSpecsFor(architecture)) {
        ranks.merge(spec.module(), spec.rank(), Integer::sum);
        owners
            .computeIfAbsent(spec.module(), k -> new ArrayList<>())
            .add(e.getKey() + " (rank " + spec.rank() + ")");
      }
    }
    List<LoraModuleSpec> specs = new ArrayList<>();
    for (Projection p : architecture.projections()) {
      Integer rank = ranks.get(p.name());
      if (rank == null) {
        continue;
      }
      int max = Math.min(p.in(), p.out());
      if (rank > max) {
        throw new IllegalArgumentException(
            "the adapters "
                + owners.get(p.name())
                + " stack to rank "
                + rank
                + " on "
                + p.name()
                + ", more than min(in, out) = "
                + max
                + "; put fewer adapters in one mixed batch, or swap them with AdapterSet");
      }
      specs.add(
          new LoraModuleSpec(
              p.name(), rank, rank, 1.0, 0, dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM, List.of()));
    }
    return specs;
  }

  /** Stacks each adapter's factors into the slots and writes its seat's routing factors. */
  private void load(Map<String, PeftAdapter> adapters) {
    List<Map<String, LoraModuleSpec>> specsBySeat = new ArrayList<>();
    for (PeftAdapter adapter : adapters.values()) {
      Map<String, LoraModuleSpec> byModule = new LinkedHashMap<>();
      for (LoraModuleSpec spec : adapter.wholeModuleSpecsFor(model.architecture())) {
        byModule.put(spec.module(), spec);
      }
      specsBySeat.add(byModule);
    }
    List<PeftAdapter> inSeatOrder = List.copyOf(adapters.values());
    List<WeightVariable> variables = new ArrayList<>();
    List<float[]> values = new ArrayList<>();
    for (AdapterModule module : model.adapters().values()) {
      AdapterModule.Part slot = module.parts().get(0);
      int capacity = (int) slot.a().shape()[0];
      int in = (int) slot.a().shape()[1];
      int out = slot.size();
      float[] a = new float[capacity * in];
      float[] b = new float[out * capacity];
      float[] routing = new float[(int) slot.routing().numel()];
      int offset = 0;
      for (int k = 0; k < inSeatOrder.size(); k++) {
        LoraModuleSpec spec = specsBySeat.get(k).get(module.spec().module());
        if (spec == null) {
          continue; // this adapter leaves the module alone: its seat's factors stay 0 here
        }
        LoraFactors f = inSeatOrder.get(k).modules().get(spec.module());
        System.arraycopy(f.a(), 0, a, offset * in, f.a().length);
        for (int row = 0; row < out; row++) {
          System.arraycopy(f.b(), row * f.rank(), b, row * capacity + offset, f.rank());
        }
        int seatRow = (k + 1) * capacity;
        for (int j = 0; j < f.rank(); j++) {
          routing[seatRow + offset + j] = (float) spec.scale();
        }
        offset += f.rank();
      }
      variables.addAll(List.of(slot.a(), slot.b(), slot.routing(), slot.scale()));
      // The scales live in the routing rows.
      values.addAll(List.of(a, b, routing, new float[] {1f}));
    }
    model.assign(variables, values); // one session run per group, not per variable
  }

  /** The adapters' names in seat order. */
  public List<String> names() {
    return List.copyOf(seats.keySet());
  }

  public CompiledModel model() {
    return model;
  }

  /**
   * Logits of a batch whose row b runs with the adapter {@code rowAdapters.get(b)}, or with the
   * base model where that is {@link #BASE} or null.
   */
  public CompiledModel.Logits logits(int[][] ids, List<String> rowAdapters) {
    if (rowAdapters.size() != ids.length) {
      throw new IllegalArgumentException(
          "adapter_names must name one adapter per row: the batch has "
              + ids.length
              + " rows, adapter_names has "
              + rowAdapters.size());
    }
    int[] rowSeats = new int[ids.length];
    for (int r = 0; r < rowSeats.length; r++) {
      String name = rowAdapters.get(r);
      if (name == null || name.equals(BASE)) {
        continue;
      }
      Integer seat = seats.get(name);
      if (seat == null) {
        throw new IllegalArgumentException(
            "adapter_names["
                + r
                + "] = '"
                + name
                + "' is not loaded; loaded: "
                + seats.keySet()
                + ", or "
                + BASE
                + " for the base model");
      }
      rowSeats[r] = seat;
    }
    return model.logits(ids, rowSeats);
  }

  @Override
  public void close() {
    model.close();
  }
}
