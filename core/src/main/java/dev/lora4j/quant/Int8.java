package dev.lora4j.quant;

/**
 * Symmetric int8 with one scale per output channel: scale = absmax / 127 over the channel, code =
 * round-half-even(x / scale) clamped to [-127, 127], dequantized = code * scale (float32). Every
 * value comes back within scale / 2 of where it was. Codes are stored offset by 128 as unsigned
 * bytes (TensorFlow Java has no int8 tensor type): stored = code + 128, in 1..255.
 */
public final class Int8 {
  /** Added to a code before it is stored as an unsigned byte. */
  static final int OFFSET = 128;

  private Int8() {}

  /**
   * A quantized [rows, cols] matrix.
   *
   * @param channelsAreRows true when each row is one output channel (nn.Linear's [out, in]); false
   *     when each column is (GPT-2 Conv1D's [in, out])
   * @param codes stored codes (code + 128), row-major [rows, cols]
   * @param scales one per output channel
   */
  public record Quantized(
      int rows, int cols, boolean channelsAreRows, byte[] codes, float[] scales) {

    /** The signed code of element (r, c). */
    public int code(int r, int c) {
      return (codes[r * cols + c] & 0xff) - OFFSET;
    }

    public long storedBytes() {
      return codes.length + 4L * scales.length;
    }
  }

  /**
   * Quantizes a row-major matrix.
   *
   * @param name the tensor's name, for the message when a value is NaN or infinite
   */
  public static Quantized quantize(
      String name, float[] values, int rows, int cols, boolean channelsAreRows) {
    if ((long) rows * cols != values.length) {
      throw new IllegalArgumentException(
          name + ": " + values.length + " values do not fill [" + rows + ", " + cols + "]");
    }
    Finite.require(name, values, "int8");
    int channels = channelsAreRows ? rows : cols;
    float[] absmax = new float[channels];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        int ch = channelsAreRows ? r : c;
        absmax[ch] = Math.max(absmax[ch], Math.abs(values[r * cols + c]));
      }
    }
    float[] scales = new float[channels];
    for (int ch = 0; ch < channels; ch++) {
      scales[ch] = absmax[ch] / 127f;
    }
    byte[] codes = new byte[values.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        float scale = scales[channelsAreRows ? r : c];
        int code = scale == 0 ? 0 : (int) Math.rint(values[r * cols + c] / scale);
        code = Math.max(-127, Math.min(127, code));
        codes[r * cols + c] = (byte) (code + OFFSET);
      }
    }
    return new Quantized(rows, cols, channelsAreRows, codes, scales);
  }

  /** code * scale per element, float32, row-major. */
  public static float[] dequantize(Quantized q) {
    float[] out = new float[q.codes().length];
    for (int r = 0; r < q.rows(); r++) {
      for (int c = 0; c < q.cols(); c++) {
        float scale = q.scales()[q.channelsAreRows() ? r : c];
        out[r * q.cols() + c] = (float) q.code(r, c) * scale;
      }
    }
    return out;
  }
}
