package dev.lora4j.quant;

/**
 * QLoRA's double quantization of the NF4 absmax values: subtract their mean, cut them into blocks
 * of {@link #BLOCK}, and store each as a symmetric 8-bit code with one float32 scale per block
 * (scale = max |centered| / 127). Dequantized absmax = code * scale + mean, in float32. This takes
 * the absmax overhead from 32/64 = 0.5 to about 8/64 + 32/(64*256) = 0.127 bits per weight.
 *
 * <p>bitsandbytes stores the second-level codes with its dynamic 8-bit map; this implementation
 * uses the linear symmetric map, which is simpler to state and keeps the dequantization to two
 * float32 ops. The codes are stored offset by 128 as unsigned bytes, padded to a whole number of
 * blocks.
 */
public final class DoubleQuant {
  /** absmax values per second-level block. */
  public static final int BLOCK = 256;

  private DoubleQuant() {}

  /**
   * Quantized absmax values.
   *
   * @param count real absmax values (the codes are padded to a multiple of 256)
   * @param codes stored codes (code + 128)
   * @param scales one per block of 256
   * @param offset the mean that was subtracted
   */
  public record Quantized(int count, byte[] codes, float[] scales, float offset) {
    public long storedBytes() {
      return codes.length + 4L * scales.length + 4;
    }
  }

  public static Quantized quantize(float[] absmax) {
    int blocks = (absmax.length + BLOCK - 1) / BLOCK;
    double sum = 0;
    for (float v : absmax) {
      sum += v;
    }
    float offset = absmax.length == 0 ? 0 : (float) (sum / absmax.length);
    float[] scales = new float[blocks];
    byte[] codes = new byte[blocks * BLOCK];
    java.util.Arrays.fill(codes, (byte) Int8.OFFSET);
    for (int b = 0; b < blocks; b++) {
      int start = b * BLOCK;
      int end = Math.min(absmax.length, start + BLOCK);
      float max = 0;
      for (int i = start; i < end; i++) {
        max = Math.max(max, Math.abs(absmax[i] - offset));
      }
      float scale = max / 127f;
      scales[b] = scale;
      for (int i = start; i < end; i++) {
        int code = scale == 0 ? 0 : (int) Math.rint((absmax[i] - offset) / scale);
        codes[i] = (byte) (Math.max(-127, Math.min(127, code)) + Int8.OFFSET);
      }
    }
    return new Quantized(absmax.length, codes, scales, offset);
  }

  /** code * scale + offset per value, float32 (the same two ops the graph runs). */
  public static float[] dequantize(Quantized q) {
    float[] out = new float[q.count()];
    for (int i = 0; i < out.length; i++) {
      float code = (float) ((q.codes()[i] & 0xff) - Int8.OFFSET);
      out[i] = code * q.scales()[i / BLOCK] + q.offset();
    }
    return out;
  }
}
