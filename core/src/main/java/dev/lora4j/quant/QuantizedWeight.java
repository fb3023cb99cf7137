package dev.lora4j.quant;

import dev.lora4j.model.Projection;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.Scope;
import org.tensorflow.op.core.Assign;
import org.tensorflow.op.core.Gather;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Reshape;
import org.tensorflow.op.core.Slice;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.dtypes.Cast;
import org.tensorflow.op.math.Add;
import org.tensorflow.op.math.Mul;
import org.tensorflow.op.math.Sub;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.RewriterConfig;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TUint8;
import org.tensorflow.types.family.TType;

/**
 * One frozen projection weight stored quantized in a graph: uint8 code variables and float32 scale
 * variables (bfloat16 values for {@link Quantization.Format#BF16}), set from the host by {@link
 * #load}, and a dequantization subgraph that {@link #dequantize} builds right before the
 * projection's matmul. No gradient or optimizer op is ever built for these variables.
 *
 * <p>The graph ops, by format:
 *
 * <ul>
 *   <li>NF4: cast the packed bytes to int32, gather them from a [256, 2] table of decoded nibble
 *       pairs (unpacking and decoding in one op), multiply [blocks, 64] by the absmax column, drop
 *       the padding. With double quantization the absmax column is itself cast, shifted by -128,
 *       multiplied by its block scale and shifted by the mean first.
 *   <li>INT8: cast to float32, subtract 128, multiply by the per-channel scale.
 *   <li>BF16: cast to float32.
 * </ul>
 *
 * The dequantization waits for the projection's input (a control dependency), so weights are
 * decoded one projection at a time instead of all at the start of a step, and its ops carry
 * Grappler's recompute hint, so training recomputes them in the backward pass instead of holding
 * every decoded weight from the forward pass (see {@link #configure}).
 */
public final class QuantizedWeight {
  private final String name;
  private final long[] shape;
  private final Quantization quantization;
  private final boolean channelsAreRows;
  private final List<Stored<?>> stored = new ArrayList<>();
  private final int numel;
  private final int blocks;
  private final int absmaxBlocks;

  /** A graph variable with its feed placeholder and assign op. */
  private record Stored<T extends TType>(
      String name, long[] shape, Variable<T> variable, Placeholder<T> feed, Assign<T> assign) {

    static <T extends TType> Stored<T> create(Ops tf, String name, Class<T> type, long... shape) {
      Variable<T> v = tf.withName(name).variable(Shape.of(shape), type);
      Placeholder<T> feed =
          tf.withName(name + "_feed").placeholder(type, Placeholder.shape(Shape.of(shape)));
      return new Stored<>(name, shape, v, feed, tf.withName(name + "_set").assign(v, feed));
    }

    long numel() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return n;
    }
  }

  private QuantizedWeight(
      Ops tf, String name, long[] shape, Quantization quantization, boolean channelsAreRows) {
    this.name = name;
    this.shape = shape.clone();
    this.quantization = quantization;
    this.channelsAreRows = channelsAreRows;
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    if (n > Integer.MAX_VALUE - Nf4.BLOCK) {
      throw new IllegalArgumentException(
          name + ": " + n + " values are more than one quantized tensor can hold (2^31 - 65)");
    }
    this.numel = (int) n;
    this.blocks = (numel + Nf4.BLOCK - 1) / Nf4.BLOCK;
    this.absmaxBlocks = (blocks + DoubleQuant.BLOCK - 1) / DoubleQuant.BLOCK;
    switch (quantization.format()) {
      case BF16 -> stored.add(Stored.create(tf, name + ".bf16", TBfloat16.class, shape));
      case INT8 -> {
        stored.add(Stored.create(tf, name + ".int8", TUint8.class, shape));
        long[] scaleShape =
            channelsAreRows ? new long[] {shape[0], 1} : new long[] {1, shape[shape.length - 1]};
        stored.add(Stored.create(tf, name + ".int8_scale", TFloat32.class, scaleShape));
      }
      case NF4 -> {
        stored.add(Stored.create(tf, name + ".nf4", TUint8.class, (long) blocks * Nf4.BLOCK / 2));
        if (quantization.doubleQuant()) {
          long codes = (long) absmaxBlocks * DoubleQuant.BLOCK;
          stored.add(Stored.create(tf, name + ".nf4_absmax_codes", TUint8.class, codes));
          stored.add(
              Stored.create(tf, name + ".nf4_absmax_scale", TFloat32.class, absmaxBlocks, 1));
          stored.add(Stored.create(tf, name + ".nf4_absmax_offset", TFloat32.class));
        } else {
          stored.add(Stored.create(tf, name + ".nf4_absmax", TFloat32.class, blocks, 1));
        }
      }
      case NONE ->
          throw new IllegalArgumentException(name + ": NONE keeps the weight a float32 variable");
    }
  }

  /**
   * Declares the variables of one quantized weight.
   *
   * @param name the checkpoint key, e.g. model.layers.0.self_attn.q_proj.weight
   * @param shape the stored shape; INT8 needs a matrix
   * @param layout decides which axis holds the output channels (INT8 scales): rows for nn.Linear
   *     [out, in], columns for GPT-2's Conv1D [in, out]
   */
  public static QuantizedWeight create(
      Ops tf, String name, long[] shape, Projection.Layout layout, Quantization quantization) {
    if (quantization.format() == Quantization.Format.INT8 && shape.length != 2) {
      throw new IllegalArgumentException(
          name
              + ": int8 keeps one scale per output channel of a matrix, but the weight has shape "
              + Arrays.toString(shape));
    }
    return new QuantizedWeight(tf, name, shape, quantization, layout == Projection.Layout.LINEAR);
  }

  /**
   * Turns on what the dequantization relies on in a session config: Grappler's memory optimizer in
   * MANUAL mode, recomputing the hinted ops for the gradient ops TensorFlow Java names
   * `Gradients/...` (and `Gradients_1/...`, `train/Gradients/...`). Without it, training still
   * works, but keeps every decoded weight alive from the forward to the backward pass.
   */
  public static ConfigProto.Builder configure(ConfigProto.Builder config) {
    RewriterConfig.Builder rewrite = config.getGraphOptionsBuilder().getRewriteOptionsBuilder();
    rewrite
        .setMemoryOptimization(RewriterConfig.MemOptType.MANUAL)
        .setMemoryOptimizerTargetNodeNameScope("Gradients");
    return config;
  }

  public String name() {
    return name;
  }

  public long[] shape() {
    return shape.clone();
  }

  public Quantization quantization() {
    return quantization;
  }

  public long numel() {
    return numel;
  }

  /** NF4 padding values in the last block (0 for other formats or a multiple of 64). */
  public int padding() {
    return quantization.format() == Quantization.Format.NF4 ? blocks * Nf4.BLOCK - numel : 0;
  }

  /** Bytes the variables hold: codes, scales and (double quantization) their scales. */
  public long storedBytes() {
    long bytes = 0;
    for (Stored<?> s : stored) {
      Class<?> type = s.variable().type();
      bytes += s.numel() * (type == TUint8.class ? 1 : type == TBfloat16.class ? 2 : 4);
    }
    return bytes;
  }

  /**
   * Quantizes float32 values on the host and sets the variables.
   *
   * @param values the weight, row-major in its stored shape
   * @throws IllegalArgumentException naming this weight when a value is NaN or infinite
   */
  public void load(Session session, float[] values) {
    List<Tensor> tensors = encode(values);
    try {
      Session.Runner runner = session.runner();
      feed(runner, tensors);
      runner.run().close();
    } finally {
      tensors.forEach(Tensor::close);
    }
  }

  /**
   * Adds the feeds and assignments of {@link #encode}'s tensors to a runner, so that several
   * weights load in one session run; the caller runs it and closes the tensors.
   */
  public void feed(Session.Runner runner, List<Tensor> tensors) {
    for (int i = 0; i < stored.size(); i++) {
      runner.feed(stored.get(i).feed(), tensors.get(i)).addTarget(stored.get(i).assign());
    }
  }

  /**
   * Quantizes float32 values on the host into the tensors {@link #feed} assigns (the caller closes
   * them).
   *
   * @param values the weight, row-major in its stored shape
   * @throws IllegalArgumentException naming this weight when a value is NaN or infinite
   */
  public List<Tensor> encode(float[] values) {
    if (values.length != numel) {
      throw new IllegalArgumentException(
          name
              + " needs "
              + numel
              + " values for shape "
              + Arrays.toString(shape)
              + ", got "
              + values.length);
    }
    List<Tensor> tensors = new ArrayList<>();
    try {
      switch (quantization.format()) {
        case BF16 -> {
          short[] bits = Bf16.round(name, values);
          TBfloat16 t = TBfloat16.tensorOf(Shape.of(shape));
          tensors.add(t);
          t.asRawTensor().data().asShorts().write(bits);
        }
        case INT8 -> {
          int rows = (int) shape[0];
          int cols = (int) shape[1];
          Int8.Quantized q = Int8.quantize(name, values, rows, cols, channelsAreRows);
          tensors.add(bytes(q.codes(), shape));
          tensors.add(floats(q.scales(), stored.get(1).shape()));
        }
        case NF4 -> {
          Nf4.Quantized q = Nf4.quantize(name, values);
          tensors.add(bytes(q.packed(), stored.get(0).shape()));
          if (quantization.doubleQuant()) {
            DoubleQuant.Quantized d = DoubleQuant.quantize(q.absmax());
            tensors.add(bytes(d.codes(), stored.get(1).shape()));
            tensors.add(floats(d.scales(), stored.get(2).shape()));
            tensors.add(floats(new float[] {d.offset()}, stored.get(3).shape()));
          } else {
            tensors.add(floats(q.absmax(), stored.get(1).shape()));
          }
        }
        case NONE -> throw new IllegalStateException("unreachable");
      }
      return tensors;
    } catch (RuntimeException e) {
      tensors.forEach(Tensor::close);
      throw e;
    }
  }

  private static TUint8 bytes(byte[] values, long[] shape) {
    return TUint8.tensorOf(Shape.of(shape), DataBuffers.of(values, true, false));
  }

  private static TFloat32 floats(float[] values, long[] shape) {
    return TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(values, true, false));
  }

  /**
   * Builds the dequantized weight, float32 in the stored shape.
   *
   * @param after the op that must run first (the projection's input), so the weight is decoded just
   *     before its matmul; null for none
   */
  public Operand<TFloat32> dequantize(Ops tf, Operand<?> after) {
    Ops base = after == null ? tf : tf.withControlDependencies(List.of(after));
    Scope s = new RecomputeScope(base.withSubScope(name + "_dequant").scope());
    Operand<TFloat32> flat;
    switch (quantization.format()) {
      case BF16 -> {
        return Cast.create(s.withName("dequantized"), variable(0, TBfloat16.class), TFloat32.class);
      }
      case INT8 -> {
        Operand<TFloat32> codes = Cast.create(s, variable(0, TUint8.class), TFloat32.class);
        Operand<TFloat32> centered = Sub.create(s, codes, tf.constant((float) Int8.OFFSET));
        return Mul.create(s.withName("dequantized"), centered, variable(1, TFloat32.class));
      }
      case NF4 -> {
        Operand<TInt32> bytes = Cast.create(s, variable(0, TUint8.class), TInt32.class);
        Operand<TFloat32> table =
            tf.constant(Shape.of(256, 2), DataBuffers.of(Nf4.pairTable(), true, false));
        Operand<TFloat32> pairs = Gather.create(s, table, bytes, tf.constant(0)); // [bytes, 2]
        Operand<TFloat32> rows =
            Reshape.create(s, pairs, tf.constant(new long[] {blocks, Nf4.BLOCK})); // [blocks, 64]
        Operand<TFloat32> scaled = Mul.create(s, rows, absmaxColumn(tf, s));
        flat = Reshape.create(s, scaled, tf.constant(new long[] {-1}));
        if (padding() > 0) {
          flat =
              Slice.create(s, flat, tf.constant(new long[] {0}), tf.constant(new long[] {numel}));
        }
      }
      default -> throw new IllegalStateException("unreachable");
    }
    return Reshape.create(s.withName("dequantized"), flat, tf.constant(shape));
  }

  /** [blocks, 1]: the stored absmax column, or its double-quantized reconstruction. */
  private Operand<TFloat32> absmaxColumn(Ops tf, Scope s) {
    if (!quantization.doubleQuant()) {
      return variable(1, TFloat32.class);
    }
    Operand<TFloat32> codes = Cast.create(s, variable(1, TUint8.class), TFloat32.class);
    Operand<TFloat32> centered = Sub.create(s, codes, tf.constant((float) Int8.OFFSET));
    Operand<TFloat32> byBlock =
        Reshape.create(s, centered, tf.constant(new long[] {absmaxBlocks, DoubleQuant.BLOCK}));
    Operand<TFloat32> absmax =
        Add.create(
            s, Mul.create(s, byBlock, variable(2, TFloat32.class)), variable(3, TFloat32.class));
    Operand<TFloat32> flat = Reshape.create(s, absmax, tf.constant(new long[] {-1}));
    if (absmaxBlocks * DoubleQuant.BLOCK != blocks) {
      flat = Slice.create(s, flat, tf.constant(new long[] {0}), tf.constant(new long[] {blocks}));
    }
    return Reshape.create(s, flat, tf.constant(new long[] {blocks, 1}));
  }

  @SuppressWarnings("unchecked")
  private <T extends TType> Variable<T> variable(int index, Class<T> type) {
    Variable<?> v = stored.get(index).variable();
    if (v.type() != type) {
      throw new IllegalStateException(v + " is not " + type.getSimpleName());
    }
    return (Variable<T>) v;
  }

  /** The raw bytes of every stored variable, concatenated: equal snapshots mean equal storage. */
  public byte[] snapshot(Session session) {
    Session.Runner runner = session.runner();
    for (Stored<?> s : stored) {
      runner.fetch(s.variable());
    }
    try (Result result = runner.run()) {
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      for (int i = 0; i < stored.size(); i++) {
        Tensor t = result.get(i);
        byte[] raw = new byte[(int) t.asRawTensor().numBytes()];
        t.asRawTensor().data().read(raw);
        out.writeBytes(raw);
      }
      return out.toByteArray();
    }
  }

  /** Names of the stored variables, for checks that nothing else writes to them. */
  public List<String> variableNames() {
    return stored.stream().map(s -> s.variable().op().name()).toList();
  }

  @Override
  public String toString() {
    return name + " " + Arrays.toString(shape) + " as " + quantization.label();
  }
}
