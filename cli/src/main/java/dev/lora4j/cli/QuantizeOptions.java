package dev.lora4j.cli;

import dev.lora4j.compile.CompiledModel;
import dev.lora4j.quant.Quantization;
import dev.lora4j.quant.QuantizedWeight;
import java.util.Locale;
import picocli.CommandLine.Option;

/** --quantize-base and --double-quant: how the frozen projection weights are stored. */
final class QuantizeOptions {
  @Option(
      names = "--quantize-base",
      paramLabel = "int8|nf4|bf16",
      description =
          "Store the frozen projection weights quantized and dequantize them in the graph before"
              + " each matmul: int8 (one scale per output channel), nf4 (4-bit NormalFloat, blocks"
              + " of 64) or bf16. Embeddings, norms, biases, the head and the adapters stay"
              + " float32. nf4-dq is nf4 with --double-quant. Default: float32.")
  String format;

  @Option(
      names = "--double-quant",
      description = "With nf4: store the block absmax values as 8-bit codes (blocks of 256).")
  boolean doubleQuant;

  Quantization quantization() {
    if (format == null && doubleQuant) {
      throw new IllegalArgumentException(
          "--double-quant quantizes the absmax values of nf4 blocks; add --quantize-base nf4");
    }
    return Quantization.parse(format, doubleQuant);
  }

  /** One stderr line on what was quantized, and one per weight whose last NF4 block was padded. */
  static void report(CompiledModel model) {
    if (model.quantizedWeights().isEmpty()) {
      return;
    }
    long stored = 0;
    long f32 = 0;
    Quantization q = null;
    for (QuantizedWeight w : model.quantizedWeights().values()) {
      stored += w.storedBytes();
      f32 += 4 * w.numel();
      q = w.quantization();
      if (w.padding() > 0) {
        System.err.printf(
            Locale.ROOT,
            "lora4j: %s has %d values, not a multiple of 64: its last nf4 block holds %d and is"
                + " padded with %d zero codes%n",
            w.name(),
            w.numel(),
            64 - w.padding(),
            w.padding());
      }
    }
    System.err.printf(
        Locale.ROOT,
        "lora4j: %d projection weights stored as %s: %.1f MB instead of %.1f MB in float32"
            + " (embeddings, norms, biases and the head stay float32)%n",
        model.quantizedWeights().size(),
        q,
        stored / 1e6,
        f32 / 1e6);
  }
}
