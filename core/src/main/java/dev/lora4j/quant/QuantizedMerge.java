package dev.lora4j.quant;

import dev.lora4j.adapter.LoraDelta;
import dev.lora4j.adapter.LoraFactors;
import dev.lora4j.adapter.Merger;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.io.DType;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.model.ModelConfig;
import dev.lora4j.model.Projection;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Merging an adapter into a quantized base: every projection weight W becomes
 * dequantize(quantize(W)) (what the quantized model computes with), the adapter's delta is added in
 * float32, and the sum is optionally quantized again. The result is written as a plain float32 (or
 * bf16) checkpoint.
 *
 * <p>Without re-quantization the merged checkpoint equals the quantized base with the adapter
 * unmerged (what a QLoRA run trained against), up to float32 summation order. Either way it differs
 * from the float32 merge (W + delta) by the quantization error, and {@link #drift} measures that
 * difference on the logits instead of hiding it: {@link #export} refuses to write unless the caller
 * accepts it.
 */
public final class QuantizedMerge {
  /** Probe batch for the drift: rows of random token ids. */
  static final int PROBE_ROWS = 4;

  static final int PROBE_TOKENS = 32;

  private QuantizedMerge() {}

  /**
   * How far the quantized merge's logits are from the float32 merge's.
   *
   * @param maxAbs max |logit difference|
   * @param meanAbs mean |logit difference|
   * @param maxLogit max |logit| of the float32 merge, for scale
   */
  public record Drift(
      Quantization quantization,
      boolean requantized,
      double maxAbs,
      double meanAbs,
      double maxLogit,
      int rows,
      int tokens) {

    public String describe() {
      return String.format(
          Locale.ROOT,
          "merging into the base stored as %s%s moves the logits against the float32 merge by"
              + " max abs %.4g, mean abs %.4g (largest |logit| %.3g; %d x %d random token ids)",
          quantization.label(),
          requantized ? " and re-quantizing" : "",
          maxAbs,
          meanAbs,
          maxLogit,
          rows,
          tokens);
    }
  }

  /** Thrown by {@link #export} when the drift was not accepted; nothing was written. */
  public static final class DriftNotAcceptedException extends IllegalStateException {
    private final transient Drift drift;

    DriftNotAcceptedException(Drift drift) {
      super(
          drift.describe()
              + ". Nothing was written. Pass --allow-drift (allowDrift = true) to write it anyway,"
              + " or merge without --quantize-base for an exact float32 merge");
      this.drift = drift;
    }

    public Drift drift() {
      return drift;
    }
  }

  /**
   * quantize then dequantize on the host, bit for bit what the graph decodes.
   *
   * @param name the checkpoint key, for messages
   * @param shape the stored shape; layout decides the int8 channel axis
   */
  public static float[] roundTrip(
      String name, float[] values, long[] shape, Projection.Layout layout, Quantization q) {
    return switch (q.format()) {
      case NONE -> values.clone();
      case BF16 -> Bf16.toFloats(Bf16.round(name, values));
      case INT8 ->
          Int8.dequantize(
              Int8.quantize(
                  name,
                  values,
                  (int) shape[0],
                  (int) shape[1],
                  layout == Projection.Layout.LINEAR));
      case NF4 -> {
        Nf4.Quantized n = Nf4.quantize(name, values);
        yield q.doubleQuant()
            ? Nf4.dequantize(n, DoubleQuant.dequantize(DoubleQuant.quantize(n.absmax())))
            : Nf4.dequantize(n);
      }
    };
  }

  /**
   * Every projection weight as the quantized base holds it, with the adapter's delta added to the
   * adapted ones (and, with {@code requantize}, quantized once more).
   */
  public static Map<String, float[]> mergedWeights(
      Checkpoint checkpoint, PeftAdapter adapter, Quantization q, boolean requantize) {
    Map<String, LoraModuleSpec> specs = new LinkedHashMap<>();
    for (LoraModuleSpec spec : adapter.wholeModuleSpecsFor(checkpoint.architecture())) {
      specs.put(spec.module(), spec);
    }
    Map<String, float[]> out = new LinkedHashMap<>();
    for (Projection p : checkpoint.architecture().projections()) {
      String key = p.weightKey();
      float[] weight = roundTrip(key, checkpoint.floats(key), p.weightShape(), p.layout(), q);
      LoraModuleSpec spec = specs.get(p.name());
      if (spec != null) {
        LoraFactors f = adapter.modules().get(p.name());
        LoraDelta.apply(weight, f, spec.scale(), p.layout(), +1);
        if (requantize) {
          weight = roundTrip(key, weight, p.weightShape(), p.layout(), q);
        }
        for (float v : weight) {
          if (!Float.isFinite(v)) {
            throw new IllegalStateException(
                "merging the adapter "
                    + adapter.dir()
                    + " into '"
                    + key
                    + "' gives "
                    + v
                    + "; the adapter holds non-finite or huge values. Nothing was written.");
          }
        }
      }
      out.put(key, weight);
    }
    return out;
  }

  /** Fixed random token ids: {@value #PROBE_ROWS} rows of up to {@value #PROBE_TOKENS} tokens. */
  public static int[][] probeIds(ModelConfig config) {
    SplittableRandom random = new SplittableRandom(20230523L); // the QLoRA paper's arXiv date
    int[][] ids = new int[PROBE_ROWS][Math.min(PROBE_TOKENS, config.maxPositions())];
    for (int[] row : ids) {
      for (int t = 0; t < row.length; t++) {
        row[t] = random.nextInt(config.vocabSize());
      }
    }
    return ids;
  }

  /**
   * Logits of the float32 merge (Merger's) against logits of the given weights, on the same ids,
   * both in one float32 model without adapter ops.
   */
  public static Drift drift(
      Checkpoint checkpoint,
      PeftAdapter adapter,
      Map<String, float[]> merged,
      Quantization q,
      boolean requantized,
      int[][] ids) {
    Map<String, float[]> exact = Merger.mergedWeights(checkpoint, adapter);
    try (CompiledModel model =
        ModelCompiler.compile(checkpoint, List.of(), CompileOptions.defaults())) {
      assignAll(model, exact);
      float[] want = model.logits(ids).values();
      assignAll(model, merged);
      float[] got = model.logits(ids).values();
      double max = 0;
      double sum = 0;
      double maxLogit = 0;
      for (int i = 0; i < want.length; i++) {
        double d = Math.abs((double) got[i] - want[i]);
        max = Math.max(max, Double.isNaN(d) ? Double.POSITIVE_INFINITY : d);
        sum += d;
        maxLogit = Math.max(maxLogit, Math.abs(want[i]));
      }
      return new Drift(q, requantized, max, sum / want.length, maxLogit, ids.length, ids[0].length);
    }
  }

  /**
   * Merges into the quantized base, measures the drift, and writes the checkpoint only when {@code
   * allowDrift} is true.
   *
   * @param dtype the stored dtype of the written weights, null for the base's
   * @throws DriftNotAcceptedException when allowDrift is false; it names the drift
   */
  public static Drift export(
      Checkpoint checkpoint,
      PeftAdapter adapter,
      Quantization q,
      boolean requantize,
      boolean allowDrift,
      Path out,
      DType dtype,
      boolean force) {
    if (!q.enabled()) {
      throw new IllegalArgumentException(
          "a quantized merge needs a quantization (bf16, int8, nf4); for float32 use Merger");
    }
    Map<String, float[]> merged = mergedWeights(checkpoint, adapter, q, requantize);
    for (Map.Entry<String, float[]> e : merged.entrySet()) {
      // Measure what will be written: a bf16 output rounds the merged weights once more.
      DType stored = dtype != null ? dtype : checkpoint.info(e.getKey()).dtype();
      if (stored == DType.BF16) {
        e.setValue(Bf16.toFloats(Bf16.round(e.getKey(), e.getValue())));
      }
    }
    Drift drift = drift(checkpoint, adapter, merged, q, requantize, probeIds(checkpoint.config()));
    if (!allowDrift) {
      throw new DriftNotAcceptedException(drift);
    }
    Merger.prepareOutput(out, force);
    Merger.writeCheckpoint(checkpoint, merged, out, dtype);
    return drift;
  }

  /** Writes weights by name, a group per session run. */
  private static void assignAll(CompiledModel model, Map<String, float[]> weights) {
    List<dev.lora4j.compile.WeightVariable> variables = new java.util.ArrayList<>();
    for (String name : weights.keySet()) {
      variables.add(model.baseWeights().get(name));
    }
    model.assign(variables, List.copyOf(weights.values()));
  }
}
