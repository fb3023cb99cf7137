package dev.lora4j.compile;

import java.util.List;

/**
 * The adapter variables on one projection: one (A, B) pair for the whole output, or one pair per
 * adapted slice of a fused projection.
 */
public record AdapterModule(LoraModuleSpec spec, List<Part> parts) {

  public AdapterModule {
    parts = List.copyOf(parts);
  }

  /**
   * One low-rank pair.
   *
   * @param slice the slice name, or null for the whole output
   * @param offset first output column the pair writes to
   * @param size output columns it writes to (B's rows)
   * @param a A [r, in]
   * @param b B [size, r]
   * @param scale the factor on B·A, a variable so another adapter can be swapped in (or this one
   *     switched off with 0) without rebuilding the graph; never trained
   * @param routing null, or with {@link CompileOptions#adapterSeats()} seats: [seats + 1, r], row k
   *     the factor each rank component gets in a batch row that picks seat k (seat 0 is the base:
   *     all zeros). A mixed batch stacks its adapters' ranks in one pair, and each adapter's row
   *     holds its scale on its own components and 0 on the others'; never trained
   */
  public record Part(
      String slice,
      int offset,
      int size,
      WeightVariable a,
      WeightVariable b,
      WeightVariable scale,
      WeightVariable routing) {}
}
