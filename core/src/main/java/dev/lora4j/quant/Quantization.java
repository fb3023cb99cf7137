package dev.lora4j.quant;

import java.util.Locale;

/**
 * How the frozen projection weights of a base model are stored in the graph (QLoRA's "quantized
 * base"). Only the weights of the linear projections (attention and MLP) are quantized; token and
 * position embeddings, norm weights, biases and the output head stay float32, and so do the LoRA
 * adapters on top.
 *
 * @param format NONE (float32), BF16 (bfloat16, rounded to nearest even), INT8 (one absmax scale
 *     per output channel), or NF4 (4-bit NormalFloat, blocks of 64 with one absmax each)
 * @param doubleQuant NF4 only: the per-block absmax values are themselves stored as 8-bit codes
 *     (blocks of 256, mean subtracted first), as in QLoRA
 */
public record Quantization(Format format, boolean doubleQuant) {

  /** Storage formats of the frozen projection weights. */
  public enum Format {
    /** float32: 4 bytes per weight. */
    NONE,
    /** bfloat16: 2 bytes per weight. */
    BF16,
    /** int8 codes with one float32 scale per output channel: about 1 byte per weight. */
    INT8,
    /** NF4 codes packed two per byte, one float32 absmax per 64 weights: 0.5625 bytes. */
    NF4
  }

  public Quantization {
    if (format == null) {
      throw new IllegalArgumentException("quantization format must not be null; use NONE");
    }
    if (doubleQuant && format != Format.NF4) {
      throw new IllegalArgumentException(
          "double quantization stores the absmax values of NF4 blocks, but the format is "
              + format.name().toLowerCase(Locale.ROOT)
              + "; use nf4 with double quantization, or drop it");
    }
  }

  public static Quantization none() {
    return new Quantization(Format.NONE, false);
  }

  public static Quantization bf16() {
    return new Quantization(Format.BF16, false);
  }

  public static Quantization int8() {
    return new Quantization(Format.INT8, false);
  }

  public static Quantization nf4() {
    return new Quantization(Format.NF4, false);
  }

  public static Quantization nf4DoubleQuant() {
    return new Quantization(Format.NF4, true);
  }

  /** True unless the base stays float32. */
  public boolean enabled() {
    return format != Format.NONE;
  }

  /**
   * Parses a command-line value: none (or f32), bf16, int8, nf4, and nf4-dq (NF4 with double
   * quantization).
   */
  public static Quantization parse(String value, boolean doubleQuant) {
    String v = value == null ? "none" : value.toLowerCase(Locale.ROOT).strip();
    Quantization q =
        switch (v) {
          case "none", "f32", "float32" -> none();
          case "bf16", "bfloat16" -> bf16();
          case "int8" -> int8();
          case "nf4" -> nf4();
          case "nf4-dq" -> nf4DoubleQuant();
          default ->
              throw new IllegalArgumentException(
                  "--quantize-base must be int8, nf4, nf4-dq or bf16 (none keeps float32), was '"
                      + value
                      + "'");
        };
    if (doubleQuant && q.format != Format.NF4) {
      throw new IllegalArgumentException(
          "--double-quant quantizes the absmax values of nf4 blocks; it needs --quantize-base nf4,"
              + " was '"
              + v
              + "'");
    }
    return doubleQuant ? nf4DoubleQuant() : q;
  }

  /** A short name: f32, bf16, int8, nf4 or nf4-dq. */
  public String label() {
    return switch (format) {
      case NONE -> "f32";
      case BF16 -> "bf16";
      case INT8 -> "int8";
      case NF4 -> doubleQuant ? "nf4-dq" : "nf4";
    };
  }

  @Override
  public String toString() {
    return label();
  }
}
