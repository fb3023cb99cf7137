package dev.lora4j.data;

import java.util.Arrays;

/**
 * One training row: ids [T], lossMask [T-1] (1 = the label ids[t+1] is scored, 0 = masked). The
 * arrays are shared, not copied: do not modify them.
 */
public record Sequence(int[] ids, float[] lossMask) {
  public Sequence {
    if (ids.length < 2 || lossMask.length != ids.length - 1) {
      throw new IllegalArgumentException(
          "a sequence needs at least 2 ids and one mask value per label (ids.length - 1), had "
              + ids.length
              + " ids and "
              + lossMask.length
              + " mask values");
    }
  }

  public int length() {
    return ids.length;
  }

  /** The number of labels that count in the loss. */
  public int scoredLabels() {
    int n = 0;
    for (float m : lossMask) {
      n += m != 0 ? 1 : 0;
    }
    return n;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Sequence s
        && Arrays.equals(ids, s.ids)
        && Arrays.equals(lossMask, s.lossMask);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(ids) + Arrays.hashCode(lossMask);
  }

  @Override
  public String toString() {
    return "Sequence(ids=" + Arrays.toString(ids) + ", lossMask=" + Arrays.toString(lossMask) + ")";
  }
}
