package dev.lora4j.quant;

/**
 * 4-bit NormalFloat (QLoRA): the tensor is flattened row-major and cut into blocks of {@link
 * #BLOCK} consecutive values; each block keeps its absmax (max |x|, float32) and each value the
 * index of the {@link #CODEBOOK} entry nearest to x / absmax. Dequantized values are codebook[code]
 * * absmax, one float32 multiply, so host and graph give the same bits.
 *
 * <p>Codes are packed two per byte, the first value of a pair in the high nibble. A tensor whose
 * size is not a multiple of 64 is padded: its last block holds fewer real values (absmax over those
 * only, as in the reference), the padding codes are 7 (the exact zero) and {@link
 * Quantized#padding()} says how many there are.
 */
public final class Nf4 {
  /** Values per absmax block. */
  public static final int BLOCK = 64;

  /** The code of the exact zero: padding and all-zero blocks. */
  static final int ZERO_CODE = 7;

  /**
   * The 16 NF4 levels: quantiles of N(0, 1) scaled to [-1, 1] with an exact zero (QLoRA, appendix
   * E; the values bitsandbytes uses, as float32).
   */
  static final float[] CODEBOOK = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f
  };

  /** Decision boundaries: midpoints between neighbouring levels (float64). */
  private static final double[] MIDPOINTS = new double[15];

  static {
    for (int i = 0; i < 15; i++) {
      MIDPOINTS[i] = ((double) CODEBOOK[i] + CODEBOOK[i + 1]) / 2;
    }
  }

  private Nf4() {}

  /** The codebook, a copy. */
  public static float[] codebook() {
    return CODEBOOK.clone();
  }

  /**
   * A quantized tensor.
   *
   * @param numel real values (the padding is not counted)
   * @param packed codes, two per byte, high nibble first; ceil(numel / 64) * 32 bytes
   * @param absmax one per block, float32
   */
  public record Quantized(int numel, byte[] packed, float[] absmax) {
    public int blocks() {
      return absmax.length;
    }

    /** Padding values at the end of the last block (0 when numel is a multiple of 64). */
    public int padding() {
      return blocks() * BLOCK - numel;
    }

    /** The code of value i (0..15). */
    public int code(int i) {
      int b = packed[i >> 1] & 0xff;
      return (i & 1) == 0 ? b >>> 4 : b & 15;
    }

    /** Codes, one per real value (unpacked). */
    public byte[] codes() {
      byte[] out = new byte[numel];
      for (int i = 0; i < numel; i++) {
        out[i] = (byte) code(i);
      }
      return out;
    }

    /** Bytes held: packed codes plus float32 absmax values. */
    public long storedBytes() {
      return packed.length + 4L * absmax.length;
    }
  }

  /**
   * Quantizes values (a flattened tensor).
   *
   * @param name the tensor's name, for the message when a value is NaN or infinite
   */
  public static Quantized quantize(String name, float[] values) {
    Finite.require(name, values, "nf4");
    int numel = values.length;
    int blocks = (numel + BLOCK - 1) / BLOCK;
    float[] absmax = new float[blocks];
    byte[] packed = new byte[blocks * BLOCK / 2];
    for (int b = 0; b < blocks; b++) {
      int start = b * BLOCK;
      int end = Math.min(numel, start + BLOCK);
      float max = 0;
      for (int i = start; i < end; i++) {
        max = Math.max(max, Math.abs(values[i]));
      }
      absmax[b] = max;
      for (int i = start; i < start + BLOCK; i++) {
        int code = i < end && max > 0 ? nearest(values[i] / max) : ZERO_CODE;
        packed[i >> 1] |= (byte) ((i & 1) == 0 ? code << 4 : code);
      }
    }
    return new Quantized(numel, packed, absmax);
  }

  /** The index of the codebook level nearest to a normalized value in [-1, 1]. */
  static int nearest(float normalized) {
    int code = 0;
    while (code < 15 && normalized > MIDPOINTS[code]) {
      code++;
    }
    return code;
  }

  /** codebook[code] * absmax per value, float32. */
  public static float[] dequantize(Quantized q) {
    return dequantize(q, q.absmax());
  }

  /** Dequantizes with other absmax values (the double-quantized ones). */
  public static float[] dequantize(Quantized q, float[] absmax) {
    float[] out = new float[q.numel()];
    for (int i = 0; i < out.length; i++) {
      out[i] = CODEBOOK[q.code(i)] * absmax[i / BLOCK];
    }
    return out;
  }

  /**
   * 256 rows of two levels, the decoded pair of each packed byte: row b is {codebook[b >> 4],
   * codebook[b & 15]}. One gather of the packed bytes into this table unpacks and decodes at once.
   */
  static float[] pairTable() {
    float[] table = new float[512];
    for (int b = 0; b < 256; b++) {
      table[2 * b] = CODEBOOK[b >>> 4];
      table[2 * b + 1] = CODEBOOK[b & 15];
    }
    return table;
  }
}
