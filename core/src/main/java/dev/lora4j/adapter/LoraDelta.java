package dev.lora4j.adapter;

import dev.lora4j.model.Projection;

/**
 * The one delta function: scale · B·A in the weight's stored layout ([out, in] for nn.Linear,
 * transposed to [in, out] for GPT-2's Conv1D). Merge adds it, unmerge subtracts it. Products are
 * summed in double and rounded once, so a merge is as exact as float32 storage allows.
 */
public final class LoraDelta {
  private LoraDelta() {}

  /**
   * Adds sign · scale · B·A to a weight in place.
   *
   * @param weight the stored weight, row-major in the projection's layout
   * @param sign +1 to merge, -1 to unmerge
   * @return the weight, for chaining
   */
  public static float[] apply(
      float[] weight, LoraFactors f, double scale, Projection.Layout layout, int sign) {
    int in = f.in();
    int out = f.out();
    int r = f.rank();
    if (weight.length != (long) in * out) {
      throw new IllegalArgumentException(
          f.module()
              + ": weight has "
              + weight.length
              + " values, the adapter needs "
              + in
              + " x "
              + out);
    }
    double[] row = new double[in];
    for (int o = 0; o < out; o++) {
      java.util.Arrays.fill(row, 0);
      for (int k = 0; k < r; k++) {
        double b = f.b()[o * r + k];
        if (b == 0) {
          continue;
        }
        int aRow = k * in;
        for (int i = 0; i < in; i++) {
          row[i] += b * f.a()[aRow + i];
        }
      }
      for (int i = 0; i < in; i++) {
        int index = layout == Projection.Layout.LINEAR ? o * in + i : i * out + o;
        weight[index] = (float) (weight[index] + sign * scale * row[i]);
      }
    }
    return weight;
  }
}
