package dev.lora4j.compile;

import dev.lora4j.model.Architecture;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.model.KeyValueCache;
import dev.lora4j.model.Projection;
import dev.lora4j.model.ProjectionHook;
import dev.lora4j.quant.QuantizedWeight;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.tensorflow.DeviceSpec;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.index.Indices;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.PlaceholderWithDefault;
import org.tensorflow.op.core.Sum;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GPUOptions;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.OptimizerOptions;
import org.tensorflow.proto.RewriterConfig;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Compiles a checkpoint and a list of adapter specs into one graph. The base weights are variables
 * that no gradient or optimizer op is ever built for; the adapters are the only trainable
 * variables.
 */
public final class ModelCompiler {
  private final Checkpoint checkpoint;
  private final Architecture architecture;
  private final Map<String, LoraModuleSpec> specs = new LinkedHashMap<>();
  private final CompileOptions options;
  private final Graph graph = new Graph();
  // Not final: the incremental-decoding pass is built under a "decode" sub-scope.
  private Ops tf;
  private final Map<String, WeightVariable> baseWeights = new LinkedHashMap<>();
  // Projection weights stored quantized (CompileOptions.quantization); not in baseWeights.
  private final Map<String, QuantizedWeight> quantizedWeights = new LinkedHashMap<>();
  private final Map<String, AdapterModule> adapters = new LinkedHashMap<>();
  // BF16 precision: a bfloat16 copy of each float32 weight a matmul reads, by weight name, so the
  // weight is rounded once when it is set rather than cast on every step (see
  // CompiledModel.assign).
  private final Map<String, Variable<TBfloat16>> bf16Copies = new LinkedHashMap<>();
  private PlaceholderWithDefault<TBool> training;
  private PlaceholderWithDefault<TInt64> dropoutSeed;
  // With adapter seats: the seat each batch row runs with ([B]; 0, the base, when not fed).
  private PlaceholderWithDefault<TInt32> adapterRows;
  // What the architecture hands the output head: final hidden rows [B*T, d] and the head weight.
  private Operand<TFloat32> headRows;
  private Operand<TFloat32> headWeight;

  private ModelCompiler(Checkpoint checkpoint, List<LoraModuleSpec> specs, CompileOptions options) {
    this.checkpoint = checkpoint;
    this.architecture = checkpoint.architecture();
    this.options = options;
    for (LoraModuleSpec spec : specs) {
      this.specs.put(spec.module(), spec);
    }
    Ops root = Ops.create(graph);
    this.tf =
        options.device() == CompileOptions.Device.GPU
            ? root.withDevice(
                DeviceSpec.newBuilder()
                    .deviceType(DeviceSpec.DeviceType.GPU)
                    .deviceIndex(0)
                    .build())
            : root;
  }

  /**
   * Checks the specs against the architecture (before any tensor is allocated), builds the graph,
   * copies the base weights in and initialises the adapters (A random, B zero).
   */
  public static CompiledModel compile(
      Checkpoint checkpoint, List<LoraModuleSpec> specs, CompileOptions options) {
    validate(checkpoint.architecture(), specs);
    ModelCompiler compiler = new ModelCompiler(checkpoint, specs, options);
    try {
      return compiler.build();
    } catch (RuntimeException e) {
      compiler.graph.close();
      throw e;
    }
  }

  /** Every spec names a projection, slices exist, ranks fit. */
  public static void validate(Architecture architecture, List<LoraModuleSpec> specs) {
    Map<String, Projection> byName = new LinkedHashMap<>();
    for (Projection p : architecture.projections()) {
      byName.put(p.name(), p);
    }
    List<String> seen = new ArrayList<>();
    for (LoraModuleSpec spec : specs) {
      Projection p = byName.get(spec.module());
      if (p == null) {
        throw new IllegalArgumentException(
            "adapter target '"
                + spec.module()
                + "' is not a projection of this "
                + architecture.config().modelType()
                + " model. "
                + LoraTargets.describeNames(architecture.projections(), spec.module()));
      }
      if (seen.contains(spec.module())) {
        throw new IllegalArgumentException(
            "adapter target '" + spec.module() + "' is listed twice; give each module one spec");
      }
      seen.add(spec.module());
      if (spec.sliced()) {
        for (String sliceName : spec.slices()) {
          Projection.Slice slice = p.slice(sliceName);
          if (slice == null) {
            throw new IllegalArgumentException(
                "slice '"
                    + sliceName
                    + "' of "
                    + p.name()
                    + " does not exist; "
                    + (p.slices().isEmpty()
                        ? "this projection is not fused"
                        : "its slices are "
                            + p.slices().stream().map(Projection.Slice::name).toList()));
          }
          LoraTargets.checkRank(p, spec.rank(), slice.size());
        }
      } else {
        LoraTargets.checkRank(p, spec.rank(), p.out());
      }
      if (!(spec.dropout() >= 0 && spec.dropout() < 1)) {
        throw new IllegalArgumentException(
            "dropout must be in [0, 1) for " + spec.module() + ", was " + spec.dropout());
      }
      if (!Double.isFinite(spec.scale())) {
        throw new IllegalArgumentException(
            "scale must be finite for " + spec.module() + ", was " + spec.scale());
      }
    }
  }

  private CompiledModel build() {
    training = tf.withName("training").placeholderWithDefault(tf.constant(false), Shape.scalar());
    dropoutSeed =
        tf.withName("dropout_seed")
            .placeholderWithDefault(tf.constant(new long[] {0L, 0L}), Shape.of(2));
    Map<String, long[]> expected = architecture.expectedWeights();
    Map<String, Projection> quantized = new LinkedHashMap<>();
    if (options.quantization().enabled()) {
      for (Projection p : architecture.projections()) {
        quantized.put(p.weightKey(), p);
      }
    }
    for (Map.Entry<String, long[]> e : expected.entrySet()) {
      Projection p = quantized.get(e.getKey());
      if (p != null) {
        quantizedWeights.put(
            e.getKey(),
            QuantizedWeight.create(
                tf, e.getKey(), e.getValue(), p.layout(), options.quantization()));
      } else {
        baseWeights.put(e.getKey(), variable(e.getKey(), e.getValue()));
      }
    }
    Placeholder<TInt32> inputIds =
        tf.withName("input_ids").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, -1)));
    if (options.adapterSeats() > 0) {
      Operand<TInt32> batch = tf.stridedSlice(tf.shape(inputIds), Indices.slice(0, 1));
      adapterRows =
          tf.withName("adapter_rows")
              .placeholderWithDefault(tf.zeros(batch, TInt32.class), Shape.of(-1));
    }
    Operand<TFloat32> logits =
        architecture.logits(tf, inputIds, key -> baseWeights.get(key).variable(), hook(true));
    LossGraph loss = buildLoss(inputIds);
    // What generation samples from: the head on each sequence's last hidden row only, [B, V],
    // rather than all B·T rows of the logits and a slice of them.
    Operand<TFloat32> lastRows =
        tf.stridedSlice(
            tf.reshape(
                headRows,
                tf.concat(
                    List.of(tf.shape(inputIds), tf.constant(new int[] {-1})), tf.constant(0))),
            Indices.all(),
            Indices.at(-1),
            Indices.all()); // [B, d]
    Operand<TFloat32> lastLogits =
        tf.withName("last_logits").identity(matMul(lastRows, headWeight, true));
    Session session = new Session(graph, sessionConfig());
    CompiledModel model =
        new CompiledModel(
            checkpoint.config(),
            architecture,
            graph,
            session,
            tf,
            inputIds,
            logits,
            lastLogits,
            // Built on first use: training and evaluation never run it.
            options.adapterSeats() == 0 ? this::buildDecode : null,
            loss,
            training,
            dropoutSeed,
            adapterRows,
            baseWeights,
            bf16Copies,
            quantizedWeights,
            adapters);
    try {
      model.loadBaseWeights(checkpoint);
      initAdapters(model);
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
    return model;
  }

  /**
   * What the architecture calls for every projection (base plus adapter) and for the output head;
   * the main pass records the head's input rows and weight, which the loss reads.
   */
  private ProjectionHook hook(boolean recordHead) {
    return new ProjectionHook() {
      @Override
      public Operand<TFloat32> project(Projection p, Operand<TFloat32> x) {
        return projectWithAdapter(p, x);
      }

      @Override
      public Operand<TFloat32> head(Ops ops, Operand<TFloat32> rows, Operand<TFloat32> weight) {
        if (recordHead) {
          headRows = rows;
          headWeight = weight;
        }
        return matMul(rows, weight, true);
      }
    };
  }

  /** The incremental-decoding pass: new ids after a fed key/value past, their last logits. */
  record DecodeGraph(Placeholder<TInt32> ids, KeyValueCache cache, Operand<TFloat32> lastLogits) {}

  /**
   * The architecture once more, on new ids after a cached past, sharing every weight and adapter
   * variable of the main pass (models with adapter seats decode without a cache).
   */
  private DecodeGraph buildDecode() {
    Ops main = tf;
    tf = main.withSubScope("decode");
    try {
      Placeholder<TInt32> ids =
          tf.withName("ids").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, -1)));
      KeyValueCache cache = new KeyValueCache(tf);
      Operand<TFloat32> logits =
          architecture.logits(tf, ids, key -> baseWeights.get(key).variable(), hook(false), cache);
      Operand<TFloat32> last =
          tf.withName("last_logits")
              .stridedSlice(logits, Indices.all(), Indices.at(-1), Indices.all()); // [B, V]
      return new DecodeGraph(ids, cache, last);
    } finally {
      tf = main;
    }
  }

  /**
   * Mean next-token cross-entropy: positions [:, :-1] scored against ids[:, 1:], weighted by an
   * optional [B, T-1] mask (1 = scored; defaults to all ones). The loss has its own head matmul on
   * the [B*T, d] hidden rows, so no [B, T, V] slice of the logits (whose gradient is another [B, T,
   * V] tensor) is built in a training step; fetching the logits runs the other head. The gradient
   * down to those rows is built here, by hand: d logits = (mask / count) · (softmax − one-hot),
   * then one matmul with the head weight.
   */
  private LossGraph buildLoss(Operand<TInt32> inputIds) {
    // Every position's row enters the loss's head; the last of each sequence (no next token) with
    // weight 0 and a stand-in label. Slicing those rows off would cost a copy forward and a
    // zero-filled gradient backward, more than B extra rows of the head.
    Operand<TFloat32> scoredRows = headRows; // [B*T, d]
    Operand<TFloat32> scoredLogits = matMul(scoredRows, headWeight, true); // [B*T, V]
    Operand<TInt32> nextIds = tf.stridedSlice(inputIds, Indices.all(), Indices.sliceFrom(1));
    Operand<TInt32> labels =
        tf.concat(
            List.of(nextIds, tf.stridedSlice(inputIds, Indices.all(), Indices.sliceTo(1))),
            tf.constant(1)); // [B, T]: the next id, and the first id as the last one's stand-in
    PlaceholderWithDefault<TFloat32> scoredMask =
        tf.withName("loss_mask")
            .placeholderWithDefault(
                tf.onesLike(tf.dtypes.cast(nextIds, TFloat32.class)), Shape.of(-1, -1));
    Operand<TFloat32> mask =
        tf.pad(scoredMask, tf.constant(new int[][] {{0, 0}, {0, 1}}), tf.constant(0f)); // [B, T]
    Operand<TInt32> allAxes = tf.constant(new int[] {0, 1});
    Operand<TFloat32> count = tf.math.maximum(tf.sum(mask, allAxes), tf.constant(1f));
    Operand<TInt32> flat = tf.constant(new int[] {-1});
    SparseCrossEntropy.WithGradient crossEntropy =
        SparseCrossEntropy.withGradient(tf, scoredLogits, tf.reshape(labels, flat));
    Operand<TFloat32> losses = tf.reshape(crossEntropy.perToken(), tf.shape(labels)); // [B, T]
    Operand<TFloat32> total = tf.sum(tf.math.mul(losses, mask), allAxes, Sum.keepDims(false));
    // d loss / d logits = rowWeight · (softmax − one-hot), with rowWeight = mask / count: the row
    // weights scale the [N, d] products below, not the [N, V] gradient (same numbers, one pass
    // over the logits less).
    Operand<TFloat32> rowWeights =
        tf.expandDims(tf.math.div(tf.reshape(mask, flat), count), tf.constant(-1)); // [N, 1]
    Operand<TFloat32> dScoredRows =
        tf.math.mul(matMul(crossEntropy.softmaxMinusOneHot(), headWeight, false), rowWeights);
    // Only full fine-tuning fetches it; unfetched ops cost nothing at run time.
    Operand<TFloat32> dHeadWeight =
        matMul(crossEntropy.softmaxMinusOneHot(), tf.math.mul(scoredRows, rowWeights), true, false);
    return new LossGraph(
        tf.withName("loss").math.div(total, count),
        scoredMask,
        scoredRows,
        dScoredRows,
        headWeight,
        dHeadWeight);
  }

  private WeightVariable variable(String name, long[] shape) {
    return WeightVariable.create(tf, name, shape);
  }

  /** The hook the architecture calls for every projection: base, plus an adapter if targeted. */
  private Operand<TFloat32> projectWithAdapter(Projection p, Operand<TFloat32> x) {
    QuantizedWeight quantized = quantizedWeights.get(p.weightKey());
    Operand<TFloat32> weight =
        quantized != null
            ? quantized.dequantize(tf, x) // decoded after x is ready, right before the matmul
            : baseWeights.get(p.weightKey()).variable();
    Operand<TFloat32> out = matMul(x, weight, p.layout() == Projection.Layout.LINEAR); // [N, out]
    if (p.bias()) {
      out = tf.nn.biasAdd(out, baseWeights.get(p.biasKey()).variable());
    }
    LoraModuleSpec spec = specs.get(p.name());
    if (spec == null) {
      return tf.withName(p.name()).identity(out);
    }
    out = tf.withName(p.name() + "_base").identity(out);
    Operand<TFloat32> adapterInput = dropout(x, spec, adapters.size());
    AdapterModule built = adapters.get(p.name());
    if (built != null) {
      // A second pass over the architecture (incremental decoding) reads the same adapter.
      return tf.withName(p.name()).math.add(out, delta(adapterInput, p, built.parts()));
    }
    List<AdapterModule.Part> parts = new ArrayList<>();
    if (!spec.sliced()) {
      parts.add(part(p, spec, null, 0, p.out()));
    } else {
      for (Projection.Slice s : p.slices()) {
        if (spec.slices().contains(s.name())) {
          parts.add(part(p, spec, s.name(), s.offset(), s.size()));
        }
      }
    }
    out = tf.withName(p.name()).math.add(out, delta(adapterInput, p, parts));
    adapters.put(p.name(), new AdapterModule(spec, parts));
    return out;
  }

  private AdapterModule.Part part(
      Projection p, LoraModuleSpec spec, String slice, int offset, int size) {
    String prefix = p.name() + (slice == null ? "" : "." + slice);
    WeightVariable a = variable(prefix + ".lora_A.weight", new long[] {spec.rank(), p.in()});
    WeightVariable b = variable(prefix + ".lora_B.weight", new long[] {size, spec.rank()});
    WeightVariable scale = variable(prefix + ".lora_scale", new long[] {});
    WeightVariable routing =
        options.adapterSeats() == 0
            ? null
            : variable(
                prefix + ".lora_routing", new long[] {options.adapterSeats() + 1, spec.rank()});
    return new AdapterModule.Part(slice, offset, size, a, b, scale, routing);
  }

  /** A frozen-weight matmul in the compute precision; bf16 products come back as float32. */
  private Operand<TFloat32> matMul(
      Operand<TFloat32> x, Operand<TFloat32> weight, boolean transposeWeight) {
    return matMul(x, weight, false, transposeWeight);
  }

  /**
   * a · b (either transposed) in the compute precision; in BF16, b is read through {@link
   * #bf16Weight} (a frozen weight's copy, or a cast) and the product comes back as float32.
   */
  private Operand<TFloat32> matMul(
      Operand<TFloat32> a, Operand<TFloat32> b, boolean transposeA, boolean transposeB) {
    if (options.precision() == CompileOptions.Precision.F32) {
      return tf.linalg.matMul(a, b, MatMul.transposeA(transposeA), MatMul.transposeB(transposeB));
    }
    Operand<TBfloat16> product =
        tf.linalg.matMul(
            tf.dtypes.cast(a, TBfloat16.class),
            bf16Weight(b),
            MatMul.transposeA(transposeA),
            MatMul.transposeB(transposeB));
    return tf.dtypes.cast(product, TFloat32.class);
  }

  /**
   * The weight in bfloat16: for a frozen float32 base weight its bf16 copy (made once per weight,
   * kept equal to cast(weight) by every writer: CompiledModel.assign and the full fine-tuning
   * update), for anything else (a dequantized weight) a cast in the graph.
   */
  private Operand<TBfloat16> bf16Weight(Operand<TFloat32> weight) {
    if (options.trainableBase()) {
      return tf.dtypes.cast(weight, TBfloat16.class); // differentiable: gradients reach the weight
    }
    for (WeightVariable w : baseWeights.values()) {
      if (w.variable() == weight) {
        return bf16Copies.computeIfAbsent(
            w.name(),
            name -> tf.withName(name + ".bf16").variable(Shape.of(w.shape()), TBfloat16.class));
      }
    }
    return tf.dtypes.cast(weight, TBfloat16.class);
  }

  /**
   * The low-rank update of a projection, ((x Aᵀ) · scale) Bᵀ, [N, out]: the scale multiplies the
   * [N, r] product rather than the [N, out] one. For a fused projection with adapted slices, the
   * slices' A are stacked ([Σr, in]) and their B laid out block-wise ([out, Σr], zeros where a
   * slice is not adapted or the components are another slice's), so one pair of matmuls serves
   * every slice and the output is never split and joined; the unadapted slices get exactly + 0.
   */
  private Operand<TFloat32> delta(
      Operand<TFloat32> x, Projection p, List<AdapterModule.Part> parts) {
    Operand<TFloat32> a;
    Operand<TFloat32> b;
    Operand<TFloat32> scale;
    Operand<TFloat32> routing = null;
    if (parts.size() == 1 && parts.get(0).size() == p.out()) {
      AdapterModule.Part part = parts.get(0);
      a = part.a().variable();
      b = part.b().variable();
      scale = part.scale().variable();
      routing = part.routing() == null ? null : part.routing().variable();
    } else {
      List<Operand<TFloat32>> as = new ArrayList<>();
      List<Operand<TFloat32>> scales = new ArrayList<>();
      List<Operand<TFloat32>> routings = new ArrayList<>();
      for (AdapterModule.Part part : parts) {
        as.add(part.a().variable());
        scales.add(tf.fill(tf.constant(new int[] {rank(part)}), part.scale().variable()));
        if (part.routing() != null) {
          routings.add(part.routing().variable());
        }
      }
      a = concatOrOnly(as, 0);
      scale = concatOrOnly(scales, 0); // [Σr]
      routing = routings.isEmpty() ? null : concatOrOnly(routings, 1);
      int totalRank = parts.stream().mapToInt(ModelCompiler::rank).sum();
      List<Operand<TFloat32>> rowBlocks = new ArrayList<>();
      for (Projection.Slice s : p.slices()) {
        AdapterModule.Part owner =
            parts.stream().filter(part -> s.name().equals(part.slice())).findFirst().orElse(null);
        if (owner == null) {
          rowBlocks.add(zeros(s.size(), totalRank));
          continue;
        }
        List<Operand<TFloat32>> columns = new ArrayList<>();
        for (AdapterModule.Part part : parts) {
          columns.add(part == owner ? part.b().variable() : zeros(s.size(), rank(part)));
        }
        rowBlocks.add(concatOrOnly(columns, 1));
      }
      b = concatOrOnly(rowBlocks, 0); // [out, Σr]
    }
    Operand<TFloat32> down = tf.linalg.matMul(x, a, MatMul.transposeB(true)); // [N, r]
    if (routing != null) {
      down = routeRows(down, routing, parts.stream().mapToInt(ModelCompiler::rank).sum());
    }
    return tf.linalg.matMul(tf.math.mul(down, scale), b, MatMul.transposeB(true));
  }

  private static int rank(AdapterModule.Part part) {
    return (int) part.a().shape()[0];
  }

  private Operand<TFloat32> zeros(int rows, int cols) {
    return tf.zeros(tf.constant(new int[] {rows, cols}), TFloat32.class);
  }

  private Operand<TFloat32> concatOrOnly(List<Operand<TFloat32>> pieces, int axis) {
    return pieces.size() == 1 ? pieces.get(0) : tf.concat(pieces, tf.constant(axis));
  }

  /**
   * Mixed batches: multiplies each token's rank components [N, r] by its row's routing factors, so
   * a row keeps (scaled) the components of the adapter its seat names and zeroes every other one.
   */
  private Operand<TFloat32> routeRows(Operand<TFloat32> down, Operand<TFloat32> routing, int rank) {
    Operand<TFloat32> perRow = tf.gather(routing, adapterRows, tf.constant(0)); // [B, r]
    Operand<TFloat32> byRow =
        tf.reshape(
            down,
            tf.concat(
                List.of(tf.shape(adapterRows), tf.constant(new int[] {-1, rank})),
                tf.constant(0))); // [B, T, r]
    Operand<TFloat32> routed = tf.math.mul(byRow, tf.expandDims(perRow, tf.constant(1)));
    return tf.reshape(routed, tf.constant(new int[] {-1, rank})); // [N, r]
  }

  /** Inverted dropout on the adapter input while `training` is fed true; no ops when p = 0. */
  private Operand<TFloat32> dropout(Operand<TFloat32> x, LoraModuleSpec spec, int moduleIndex) {
    if (spec.dropout() == 0) {
      return x;
    }
    float keep = (float) (1 - spec.dropout());
    Operand<TInt64> seed =
        tf.math.add(dropoutSeed, tf.constant(new long[] {0L, 7919L * (moduleIndex + 1)}));
    Operand<TFloat32> uniform = tf.random.statelessRandomUniform(tf.shape(x), seed);
    Operand<TFloat32> keepMask =
        tf.dtypes.cast(tf.math.less(uniform, tf.constant(keep)), TFloat32.class);
    Operand<TFloat32> dropped = tf.math.mul(x, tf.math.mul(keepMask, tf.constant(1 / keep)));
    return tf.select(training, dropped, x);
  }

  private ConfigProto sessionConfig() {
    ConfigProto.Builder config = ConfigProto.newBuilder().setAllowSoftPlacement(true);
    // Grappler's remapper fuses a projection with whatever follows it (bias, residual add, GELU)
    // into one oneDNN kernel whose summation order depends on the neighbours; with an adapter in
    // between, the same base matmul would round differently. Off, a zero adapter is exactly a
    // no-op.
    GraphOptions.Builder graphOptions =
        GraphOptions.newBuilder()
            .setRewriteOptions(RewriterConfig.newBuilder().setRemapping(RewriterConfig.Toggle.OFF));
    if (options.intraOpThreads() > 0) {
      config.setIntraOpParallelismThreads(options.intraOpThreads());
    }
    if (options.interOpThreads() > 0) {
      config.setInterOpParallelismThreads(options.interOpThreads());
    }
    if (options.device() == CompileOptions.Device.GPU) {
      config.setGpuOptions(GPUOptions.newBuilder().setAllowGrowth(true));
    }
    if (options.xla()) {
      graphOptions.setOptimizerOptions(
          OptimizerOptions.newBuilder()
              .setGlobalJitLevel(OptimizerOptions.GlobalJitLevel.ON_1)
              .setCpuGlobalJit(true));
    }
    config.setGraphOptions(graphOptions);
    if (!quantizedWeights.isEmpty()) {
      QuantizedWeight.configure(config); // recompute dequantized weights in the backward pass
    }
    return config.build();
  }

  /** A random, B zero: kaiming-uniform (a = sqrt 5) or gaussian A, seeded per module. */
  private void initAdapters(CompiledModel model) {
    // Staged, then written a group per session run (one run per variable took ~5 s on 30 layers).
    List<WeightVariable> variables = new ArrayList<>();
    List<float[]> values = new ArrayList<>();
    for (AdapterModule module : adapters.values()) {
      LoraModuleSpec spec = module.spec();
      for (AdapterModule.Part part : module.parts()) {
        SplittableRandom random =
            new SplittableRandom(options.seed() * 31 + part.a().name().hashCode());
        int in = (int) part.a().shape()[1];
        float[] a = new float[(int) part.a().numel()];
        double bound = 1.0 / Math.sqrt(in);
        for (int i = 0; i < a.length; i++) {
          a[i] =
              spec.init() == dev.lora4j.dsl.LoraInit.GAUSSIAN
                  ? (float) (gaussian(random) / spec.rank())
                  : (float) (random.nextDouble(-bound, bound));
        }
        variables.addAll(List.of(part.a(), part.b(), part.scale()));
        values.addAll(
            List.of(a, new float[(int) part.b().numel()], new float[] {(float) spec.scale()}));
        if (part.routing() != null) {
          // Every seat starts as the base; MixedAdapters fills the seats it loads.
          variables.add(part.routing());
          values.add(new float[(int) part.routing().numel()]);
        }
      }
    }
    model.assign(variables, values);
  }

  private static double gaussian(SplittableRandom random) {
    double u1 = random.nextDouble();
    double u2 = random.nextDouble();
    return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  }
}
