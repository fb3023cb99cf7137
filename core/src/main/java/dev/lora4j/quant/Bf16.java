package dev.lora4j.quant;

/** bfloat16 storage: the upper 16 bits of a float32, rounded to nearest even. */
public final class Bf16 {
  private Bf16() {}

  /**
   * Rounds each value to bfloat16 (nearest, ties to even); refuses NaN and Inf, naming the tensor.
   */
  public static short[] round(String name, float[] values) {
    Finite.require(name, values, "bf16");
    short[] out = new short[values.length];
    for (int i = 0; i < values.length; i++) {
      int bits = Float.floatToRawIntBits(values[i]);
      int rounding = 0x7fff + ((bits >>> 16) & 1);
      out[i] = (short) ((bits + rounding) >>> 16);
    }
    return out;
  }

  public static float[] toFloats(short[] bits) {
    float[] out = new float[bits.length];
    for (int i = 0; i < bits.length; i++) {
      out[i] = Float.intBitsToFloat((bits[i] & 0xffff) << 16);
    }
    return out;
  }
}
