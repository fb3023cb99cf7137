package dev.lora4j.quant;

import java.util.Locale;

/**
 * The check every quantizer runs first: a scale computed over a NaN or Inf would poison a block.
 */
final class Finite {
  private Finite() {}

  static void require(String name, float[] values, String format) {
    for (int i = 0; i < values.length; i++) {
      if (!Float.isFinite(values[i])) {
        throw new IllegalArgumentException(
            String.format(
                Locale.ROOT,
                "cannot quantize '%s' to %s: value %d of %d is %s; the checkpoint holds non-finite"
                    + " weights (a diverged run or a broken conversion). Repair or re-export it;"
                    + " nothing was quantized",
                name,
                format,
                i,
                values.length,
                values[i]));
      }
    }
  }
}
