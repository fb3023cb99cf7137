package dev.lora4j.compile;

import dev.lora4j.quant.Quantization;
import java.util.function.Consumer;

/**
 * How a plan becomes a session.
 *
 * @param device where ops go: CPU, or the first GPU with soft placement (ops without a GPU kernel,
 *     or a build without GPU natives, fall back to the CPU). GPU placement is untested here: no GPU
 *     was available when it was written.
 * @param xla XLA auto-clustering on the CPU (`cpu_global_jit`): faster steps, slower first step
 * @param intraOpThreads 0 lets TensorFlow choose (all cores)
 * @param seed seeds the adapter init (A) and dropout
 * @param precision F32, or BF16: the base projections and the head multiply in bfloat16 (AMX on
 *     this CPU), while adapters, norms, softmax and the loss stay float32
 * @param quantization how the frozen projection weights are stored (float32, bf16, int8, nf4 with
 *     or without double quantization); they are dequantized in the graph right before each
 *     projection's matmul. Embeddings, norms, biases and the head stay float32
 * @param adapterSeats 0 for one adapter at a time; n > 0 compiles row routing for mixed batches:
 *     each adapter slot holds up to n adapters side by side (their ranks stacked), and each row of
 *     a batch picks one of them, or the base, by a seat index fed with the ids (see {@code
 *     dev.lora4j.adapter.MixedAdapters})
 * @param trainableBase the base weights will be trained (full fine-tuning). With BF16 precision a
 *     frozen base keeps a bfloat16 copy of each weight its matmuls read, rounded once when the
 *     weight is set instead of cast on every step; a trainable base is cast in the graph, so that
 *     gradients reach its float32 master weights
 */
public record CompileOptions(
    Device device,
    boolean xla,
    int intraOpThreads,
    int interOpThreads,
    long seed,
    Precision precision,
    Quantization quantization,
    int adapterSeats,
    boolean trainableBase) {

  public CompileOptions {
    if (adapterSeats < 0) {
      throw new IllegalArgumentException(
          "adapterSeats must be >= 0 (0 = no mixed batches), was " + adapterSeats);
    }
  }

  public enum Precision {
    F32,
    BF16
  }

  public enum Device {
    CPU,
    GPU
  }

  public static CompileOptions defaults() {
    return new CompileOptions(
        Device.CPU, false, 0, 0, 42L, Precision.F32, Quantization.none(), 0, false);
  }

  public CompileOptions withDevice(Device device) {
    return with(d -> d.device = device);
  }

  public CompileOptions withXla(boolean xla) {
    return with(d -> d.xla = xla);
  }

  public CompileOptions withPrecision(Precision precision) {
    return with(d -> d.precision = precision);
  }

  public CompileOptions withThreads(int intraOp, int interOp) {
    return with(
        d -> {
          d.intraOpThreads = intraOp;
          d.interOpThreads = interOp;
        });
  }

  public CompileOptions withSeed(long seed) {
    return with(d -> d.seed = seed);
  }

  public CompileOptions withQuantization(Quantization quantization) {
    return with(d -> d.quantization = quantization);
  }

  /** Row routing for mixed-adapter batches with room for {@code seats} adapters (0 = off). */
  public CompileOptions withAdapterSeats(int seats) {
    return with(d -> d.adapterSeats = seats);
  }

  /** For full fine-tuning: gradients must reach the base weights (see {@link #trainableBase}). */
  public CompileOptions withTrainableBase(boolean trainable) {
    return with(d -> d.trainableBase = trainable);
  }

  /** Returns a copy with the fields {@code change} sets; the canonical constructor checks it. */
  private CompileOptions with(Consumer<Draft> change) {
    Draft draft = new Draft(this);
    change.accept(draft);
    return draft.build();
  }

  /** The fields of a copy being made, as the withers change them. */
  private static final class Draft {
    Device device;
    boolean xla;
    int intraOpThreads;
    int interOpThreads;
    long seed;
    Precision precision;
    Quantization quantization;
    int adapterSeats;
    boolean trainableBase;

    Draft(CompileOptions from) {
      device = from.device;
      xla = from.xla;
      intraOpThreads = from.intraOpThreads;
      interOpThreads = from.interOpThreads;
      seed = from.seed;
      precision = from.precision;
      quantization = from.quantization;
      adapterSeats = from.adapterSeats;
      trainableBase = from.trainableBase;
    }

    CompileOptions build() {
      return new CompileOptions(
          device,
          xla,
          intraOpThreads,
          interOpThreads,
          seed,
          precision,
          quantization,
          adapterSeats,
          trainableBase);
    }
  }
}
