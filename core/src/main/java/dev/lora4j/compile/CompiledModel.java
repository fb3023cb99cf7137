package dev.lora4j.compile;

import dev.lora4j.model.Architecture;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.model.ModelConfig;
import dev.lora4j.quant.QuantizedWeight;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Gradients;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.PlaceholderWithDefault;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * A checkpoint and its adapters compiled into one TensorFlow graph and session. The only trainable
 * variables are the adapter factors; {@link #gradients()} is built over them alone.
 */
public final class CompiledModel implements AutoCloseable {
  private final ModelConfig config;
  private final Architecture architecture;
  private final Graph graph;
  private final Session session;
  private final Ops tf;
  private final Placeholder<TInt32> inputIds;
  private final Operand<TFloat32> logits;
  private final LossGraph loss;
  private final PlaceholderWithDefault<TBool> training;
  private final PlaceholderWithDefault<TInt64> dropoutSeed;
  private final PlaceholderWithDefault<TInt32> adapterRows;
  private final Map<String, WeightVariable> baseWeights;
  // BF16 precision: weight name -> the op that sets its bfloat16 copy to cast(weight).
  private final Map<String, Op> bf16Refresh = new java.util.LinkedHashMap<>();
  private final Map<String, Variable<TBfloat16>> bf16Copies;
  private final Map<String, QuantizedWeight> quantizedWeights;
  private final Map<String, AdapterModule> adapters;
  private List<Operand<TFloat32>> gradients;
  private final Operand<TFloat32> lastLogits;
  // Builds the incremental-decoding pass; null for models with adapter seats.
  private final java.util.function.Supplier<ModelCompiler.DecodeGraph> decodeBuilder;
  private ModelCompiler.DecodeGraph decode; // built by the first cachedDecoder()

  CompiledModel(
      ModelConfig config,
      Architecture architecture,
      Graph graph,
      Session session,
      Ops tf,
      Placeholder<TInt32> inputIds,
      Operand<TFloat32> logits,
      Operand<TFloat32> lastLogits,
      java.util.function.Supplier<ModelCompiler.DecodeGraph> decodeBuilder,
      LossGraph loss,
      PlaceholderWithDefault<TBool> training,
      PlaceholderWithDefault<TInt64> dropoutSeed,
      PlaceholderWithDefault<TInt32> adapterRows,
      Map<String, WeightVariable> baseWeights,
      Map<String, Variable<TBfloat16>> bf16Copies,
      Map<String, QuantizedWeight> quantizedWeights,
      Map<String, AdapterModule> adapters) {
    this.config = config;
    this.architecture = architecture;
    this.graph = graph;
    this.session = session;
    this.tf = tf;
    this.inputIds = inputIds;
    this.logits = logits;
    this.lastLogits = lastLogits;
    this.decodeBuilder = decodeBuilder;
    this.loss = loss;
    this.training = training;
    this.dropoutSeed = dropoutSeed;
    this.adapterRows = adapterRows;
    this.baseWeights = Collections.unmodifiableMap(baseWeights);
    this.bf16Copies = Collections.unmodifiableMap(bf16Copies);
    for (Map.Entry<String, Variable<TBfloat16>> copy : bf16Copies.entrySet()) {
      Variable<TFloat32> weight = baseWeights.get(copy.getKey()).variable();
      bf16Refresh.put(
          copy.getKey(),
          tf.withName(copy.getKey() + ".bf16_set")
              .assign(copy.getValue(), tf.dtypes.cast(weight, TBfloat16.class)));
    }
    this.quantizedWeights = Collections.unmodifiableMap(quantizedWeights);
    this.adapters = Collections.unmodifiableMap(adapters);
  }

  /** Logits [batch, time, vocab] in row-major order. */
  public record Logits(int batch, int time, int vocab, float[] values) {
    public float at(int b, int t, int v) {
      return values[(b * time + t) * vocab + v];
    }
  }

  public ModelConfig config() {
    return config;
  }

  public Architecture architecture() {
    return architecture;
  }

  public Graph graph() {
    return graph;
  }

  public Session session() {
    return session;
  }

  /** The op builder of this graph, for trainers that add ops (optimizers, schedules). */
  public Ops ops() {
    return tf;
  }

  public Placeholder<TInt32> inputIdsPlaceholder() {
    return inputIds;
  }

  public Operand<TFloat32> logitsOp() {
    return logits;
  }

  /** Mean next-token cross-entropy over the scored positions. */
  public Operand<TFloat32> lossOp() {
    return loss.value();
  }

  /** [B, T-1] weights of the scored positions; defaults to all ones when not fed. */
  public PlaceholderWithDefault<TFloat32> lossMaskPlaceholder() {
    return loss.mask();
  }

  public PlaceholderWithDefault<TBool> trainingPlaceholder() {
    return training;
  }

  public PlaceholderWithDefault<TInt64> dropoutSeedPlaceholder() {
    return dropoutSeed;
  }

  /**
   * Frozen float32 base weights by canonical checkpoint key. With a quantized base the projection
   * weights are not here but in {@link #quantizedWeights()}.
   */
  public Map<String, WeightVariable> baseWeights() {
    return baseWeights;
  }

  /** Projection weights stored quantized (empty unless compiled with a quantization). */
  public Map<String, QuantizedWeight> quantizedWeights() {
    return quantizedWeights;
  }

  /** Adapters by module path, in forward order. */
  public Map<String, AdapterModule> adapters() {
    return adapters;
  }

  /** The adapter factors (every A, then B, per part, in forward order): all that may train. */
  public List<WeightVariable> trainableVariables() {
    List<WeightVariable> vars = new ArrayList<>();
    for (AdapterModule module : adapters.values()) {
      for (AdapterModule.Part part : module.parts()) {
        vars.add(part.a());
        vars.add(part.b());
      }
    }
    return vars;
  }

  /**
   * d loss / d v for each of {@link #trainableVariables()}, built once. The base weights are not in
   * the list, so no optimizer built from these gradients can touch them.
   */
  public synchronized List<Operand<TFloat32>> gradients() {
    List<WeightVariable> vars = trainableVariables();
    if (vars.isEmpty()) {
      throw new IllegalStateException("this model has no adapters, so nothing can train");
    }
    if (gradients == null) {
      gradients = gradientsOf(vars);
    }
    return gradients;
  }

  /**
   * d loss / d v for the given variables. Full fine-tuning passes the base weights here; LoRA uses
   * {@link #gradients()}.
   */
  public List<Operand<TFloat32>> gradientsOf(List<WeightVariable> vars) {
    if (!quantizedWeights.isEmpty() && !trainableVariables().containsAll(vars)) {
      throw new IllegalArgumentException(
          "only the adapters can train on a quantized base: this model stores its projections as "
              + quantizedWeights.values().iterator().next().quantization()
              + ", and full fine-tuning needs float32 weights; compile without quantization to"
              + " train every weight");
    }
    for (WeightVariable v : vars) {
      if (bf16Copies.containsKey(v.name())) {
        throw new IllegalArgumentException(
            v.name()
                + " is frozen in this model: its BF16 matmuls read a bfloat16 copy that no gradient"
                + " reaches; compile with CompileOptions.withTrainableBase(true) for full"
                + " fine-tuning");
      }
    }
    // The loss's own backward pass is built by hand down to the scored hidden rows (LossGraph);
    // autodiff continues from there, seeded with d loss / d rows.
    Set<String> upstream = ancestors(loss.scoredRows());
    List<Operand<?>> reachable = new ArrayList<>();
    for (WeightVariable v : vars) {
      if (upstream.contains(v.variable().op().name())) {
        reachable.add(v.variable());
      }
    }
    Gradients dy =
        reachable.isEmpty()
            ? null
            : tf.gradients(
                List.of(loss.scoredRows()), reachable, Gradients.dx(List.of(loss.dScoredRows())));
    List<Operand<TFloat32>> out = new ArrayList<>();
    int next = 0;
    for (WeightVariable v : vars) {
      Operand<TFloat32> grad = null;
      if (upstream.contains(v.variable().op().name())) {
        grad = dy.dy(next++);
      }
      if (v.variable().op().name().equals(loss.headWeight().op().name())) {
        grad = grad == null ? loss.dHeadWeight() : tf.math.add(grad, loss.dHeadWeight());
      }
      if (grad == null) {
        throw new IllegalArgumentException(
            v.name()
                + " does not reach the loss, so it has no gradient; train only weights the"
                + " forward pass reads");
      }
      out.add(grad);
    }
    return out;
  }

  /** Names of every op the given tensor depends on (data inputs, transitively). */
  private static Set<String> ancestors(Operand<?> of) {
    Set<String> seen = new HashSet<>();
    Deque<GraphOperation> pending = new ArrayDeque<>();
    pending.push((GraphOperation) of.op());
    while (!pending.isEmpty()) {
      GraphOperation op = pending.pop();
      if (seen.add(op.name())) {
        for (Operand<?> input : op.inputs()) {
          pending.push((GraphOperation) input.op());
        }
      }
    }
    return seen;
  }

  /** Runs the forward pass. Inputs are checked first: equal-length rows, ids in the vocabulary. */
  public Logits logits(int[][] ids) {
    return logits(ids, null);
  }

  /**
   * The forward pass of a mixed batch: row b runs with the adapter in seat {@code seats[b]} (0 =
   * the base). Needs a model compiled with {@link CompileOptions#withAdapterSeats(int)}; null seats
   * feeds nothing: every row runs with the base when routing is compiled in.
   */
  public Logits logits(int[][] ids, int[] seats) {
    int[] dims = checkInputs(ids);
    if (seats != null && adapterRows == null) {
      throw new IllegalStateException(
          "this model was compiled without adapter seats, so its rows cannot pick adapters;"
              + " compile with CompileOptions.withAdapterSeats(n)");
    }
    if (seats != null && seats.length != ids.length) {
      throw new IllegalArgumentException(
          "one adapter seat per row: the batch has " + ids.length + " rows, got " + seats.length);
    }
    try (TInt32 input = idsTensor(ids);
        TInt32 rows = seats == null ? null : TInt32.vectorOf(seats)) {
      Session.Runner runner = session.runner().feed(inputIds, input).fetch(logits);
      if (rows != null) {
        runner.feed(adapterRows, rows);
      }
      try (Result result = runner.run()) {
        TFloat32 out = (TFloat32) result.get(0);
        return new Logits(dims[0], dims[1], config.vocabSize(), HostTensors.toArray(out));
      }
    }
  }

  /**
   * Logits of the last position of each row, [B, V]: what generation samples from. The head runs on
   * the last hidden row of each sequence only.
   */
  public float[] lastLogits(int[][] ids) {
    checkInputs(ids);
    try (TInt32 input = idsTensor(ids);
        Result result = session.runner().feed(inputIds, input).fetch(lastLogits).run()) {
      return HostTensors.toArray((TFloat32) result.get(0));
    }
  }

  /**
   * Starts incremental decoding of one sequence: keys and values of the tokens seen so far are kept
   * on the host and fed back, so each new token runs the model on itself only. Null where the model
   * cannot decode with a cache (adapter seats for mixed batches).
   */
  public synchronized CachedDecoder cachedDecoder() {
    if (decodeBuilder == null) {
      return null;
    }
    if (decode == null) {
      decode = decodeBuilder.get(); // the graph grows once; the session picks the new ops up
    }
    return new CachedDecoder();
  }

  /** One sequence's key/value cache; {@link #next} feeds tokens and returns the last logits. */
  public final class CachedDecoder {
    private final int layers = decode.cache().pastKeys().size();
    private final int kvHeads;
    private final int headDim;
    private float[][] keys; // per layer [1, kvHeads, length, headDim]
    private float[][] values;
    private int length;

    private CachedDecoder() {
      if (config instanceof dev.lora4j.model.Gpt2Config g) {
        kvHeads = g.nHead();
        headDim = g.headDim();
      } else {
        dev.lora4j.model.LlamaConfig l = (dev.lora4j.model.LlamaConfig) config;
        kvHeads = l.numKvHeads();
        headDim = l.headDim();
      }
      keys = new float[layers][0];
      values = new float[layers][0];
    }

    /** Tokens cached so far. */
    public int length() {
      return length;
    }

    /** Runs the model on new tokens after the cached ones; returns the last one's logits [V]. */
    public float[] next(int[] ids) {
      checkInputs(new int[][] {ids});
      if (length + ids.length > config.maxPositions()) {
        throw new IllegalArgumentException(
            "the cache holds "
                + length
                + " tokens; "
                + ids.length
                + " more would pass the model's "
                + config.maxPositions()
                + " positions");
      }
      List<org.tensorflow.Tensor> fed = new ArrayList<>();
      try {
        TInt32 input = idsTensor(new int[][] {ids});
        fed.add(input);
        TInt32 offset = TInt32.scalarOf(length);
        fed.add(offset);
        Session.Runner runner =
            session.runner().feed(decode.ids(), input).feed(decode.cache().offset(), offset);
        Shape past = Shape.of(1, kvHeads, length, headDim);
        for (int layer = 0; layer < layers; layer++) {
          TFloat32 k = HostTensors.of(past.asArray(), keys[layer]);
          TFloat32 v = HostTensors.of(past.asArray(), values[layer]);
          fed.add(k);
          fed.add(v);
          runner.feed(decode.cache().pastKeys().get(layer), k);
          runner.feed(decode.cache().pastValues().get(layer), v);
        }
        runner.fetch(decode.lastLogits());
        for (int layer = 0; layer < layers; layer++) {
          runner.fetch(decode.cache().newKeys().get(layer));
          runner.fetch(decode.cache().newValues().get(layer));
        }
        try (Result result = runner.run()) {
          float[] logits = HostTensors.toArray((TFloat32) result.get(0));
          for (int layer = 0; layer < layers; layer++) {
            keys[layer] =
                append(
                    keys[layer],
                    HostTensors.toArray((TFloat32) result.get(1 + 2 * layer)),
                    ids.length);
            values[layer] =
                append(
                    values[layer],
                    HostTensors.toArray((TFloat32) result.get(2 + 2 * layer)),
                    ids.length);
          }
          length += ids.length;
          return logits;
        }
      } finally {
        fed.forEach(org.tensorflow.Tensor::close);
      }
    }

    /** [1, H, length, hd] and [1, H, n, hd] to [1, H, length + n, hd]. */
    private float[] append(float[] past, float[] added, int n) {
      float[] out = new float[past.length + added.length];
      int pastBlock = length * headDim;
      int addedBlock = n * headDim;
      for (int h = 0; h < kvHeads; h++) {
        System.arraycopy(past, h * pastBlock, out, h * (pastBlock + addedBlock), pastBlock);
        System.arraycopy(
            added, h * addedBlock, out, h * (pastBlock + addedBlock) + pastBlock, addedBlock);
      }
      return out;
    }
  }

  /**
   * Writes the current base weights as a Hugging Face checkpoint (config.json + model.safetensors,
   * float32), e.g. after pretraining or full fine-tuning.
   */
  public void exportCheckpoint(java.nio.file.Path dir) {
    if (!quantizedWeights.isEmpty()) {
      throw new IllegalStateException(
          "this model's projections are stored quantized; exporting them as float32 would write"
              + " the quantization error into a new base. Export from a float32 model, or merge"
              + " an adapter with lora4j merge --quantize-base, which reports the drift");
    }
    java.util.Map<String, dev.lora4j.io.SafetensorsWriter.TensorData> tensors =
        new java.util.LinkedHashMap<>();
    for (WeightVariable w : baseWeights.values()) {
      tensors.put(w.name(), dev.lora4j.io.SafetensorsWriter.TensorData.f32(w.shape(), read(w)));
    }
    try {
      java.nio.file.Files.createDirectories(dir);
    } catch (java.io.IOException e) {
      throw new dev.lora4j.io.CheckpointException(dir + ": cannot create: " + e.getMessage(), e);
    }
    dev.lora4j.io.SafetensorsWriter.write(
        dir.resolve("model.safetensors"), tensors, java.util.Map.of());
    dev.lora4j.io.AtomicFiles.writeString(
        dir.resolve("config.json"), dev.lora4j.model.RandomCheckpoint.configJson(config));
  }

  /** The mean next-token loss of a batch (no dropout). */
  public float loss(int[][] ids) {
    checkInputs(ids);
    try (TInt32 input = idsTensor(ids);
        Result result = session.runner().feed(inputIds, input).fetch(loss.value()).run()) {
      return ((TFloat32) result.get(0)).getFloat();
    }
  }

  /**
   * The mean next-token loss of a batch weighted by a [B, T-1] loss mask (position t scores the
   * prediction of id t+1), no dropout.
   */
  public float loss(int[][] ids, float[][] mask) {
    int[] shape = checkInputs(ids);
    if (mask.length != shape[0] || mask[0].length != shape[1] - 1) {
      throw new IllegalArgumentException(
          "the loss mask must be [batch, time - 1] = ["
              + shape[0]
              + ", "
              + (shape[1] - 1)
              + "], was ["
              + mask.length
              + ", "
              + mask[0].length
              + "]");
    }
    try (TInt32 input = idsTensor(ids);
        TFloat32 maskInput = maskTensor(mask);
        Result result =
            session
                .runner()
                .feed(inputIds, input)
                .feed(loss.mask(), maskInput)
                .fetch(loss.value())
                .run()) {
      return ((TFloat32) result.get(0)).getFloat();
    }
  }

  /**
   * Validates a batch of token ids against the model.
   *
   * @return {batch, time}
   */
  public int[] checkInputs(int[][] ids) {
    if (ids.length == 0 || ids[0].length == 0) {
      throw new IllegalArgumentException("input_ids is empty; give at least one token per row");
    }
    int time = ids[0].length;
    for (int b = 0; b < ids.length; b++) {
      if (ids[b].length != time) {
        throw new IllegalArgumentException(
            "input_ids rows must have equal length: row 0 has "
                + time
                + " tokens, row "
                + b
                + " has "
                + ids[b].length
                + "; pad or split the rows");
      }
      for (int t = 0; t < time; t++) {
        int id = ids[b][t];
        if (id < 0 || id >= config.vocabSize()) {
          throw new IllegalArgumentException(
              "input_ids["
                  + b
                  + "]["
                  + t
                  + "] = "
                  + id
                  + " is outside the vocabulary [0, "
                  + config.vocabSize()
                  + "); the ids come from another tokenizer than this model's");
        }
      }
    }
    if (time > config.maxPositions()) {
      throw new IllegalArgumentException(
          "sequence length "
              + time
              + " is longer than the model's "
              + config.maxPositions()
              + " positions; cut the input to at most "
              + config.maxPositions()
              + " tokens");
    }
    return new int[] {ids.length, time};
  }

  public static TInt32 idsTensor(int[][] ids) {
    int time = ids[0].length;
    int[] flat = new int[ids.length * time];
    for (int b = 0; b < ids.length; b++) {
      System.arraycopy(ids[b], 0, flat, b * time, time);
    }
    TInt32 tensor = TInt32.tensorOf(Shape.of(ids.length, time));
    tensor.asRawTensor().data().asInts().write(flat);
    return tensor;
  }

  /** A [B, T-1] loss-mask tensor from its rows. */
  public static TFloat32 maskTensor(float[][] mask) {
    int rows = mask.length;
    int cols = mask[0].length;
    float[] flat = new float[rows * cols];
    for (int b = 0; b < rows; b++) {
      System.arraycopy(mask[b], 0, flat, b * cols, cols);
    }
    TFloat32 tensor = TFloat32.tensorOf(Shape.of(rows, cols));
    tensor.asRawTensor().data().asFloats().write(flat);
    return tensor;
  }

  /** Sets a variable from host values (shape checked). */
  public void assign(WeightVariable variable, float[] values) {
    assign(List.of(variable), List.of(values));
  }

  /**
   * Assigns tensors to variables in one session run (and their bf16 copies in a second); the caller
   * closes the tensors.
   */
  private void assignGroup(List<WeightVariable> variables, List<TFloat32> tensors) {
    Session.Runner assign = session.runner();
    Session.Runner refresh = session.runner();
    boolean anyRefresh = false;
    for (int i = 0; i < variables.size(); i++) {
      WeightVariable variable = variables.get(i);
      assign.feed(variable.feed(), tensors.get(i)).addTarget(variable.assign());
      Op copy = bf16Refresh.get(variable.name());
      if (copy != null) {
        refresh.addTarget(copy);
        anyRefresh = true;
      }
    }
    assign.run().close();
    if (anyRefresh) {
      refresh.run().close();
    }
  }

  /**
   * Assigns every variable the tensor {@code tensorOf} makes for it, a {@link #groups group} per
   * session run; a group's tensors are closed whether or not the run succeeds.
   */
  private void assignInGroups(
      List<WeightVariable> variables,
      java.util.function.Function<WeightVariable, TFloat32> tensorOf) {
    for (List<WeightVariable> group : groups(variables)) {
      List<TFloat32> tensors = new ArrayList<>();
      try {
        for (WeightVariable variable : group) {
          tensors.add(tensorOf.apply(variable));
        }
        assignGroup(group, tensors);
      } finally {
        tensors.forEach(TFloat32::close);
      }
    }
  }

  /**
   * The bfloat16 copy that BF16-precision matmuls read instead of casting {@code weight} on every
   * step, or null. Whatever writes the weight in the graph must also write this copy (the full
   * fine-tuning update does); {@link #assign} does it for host writes.
   */
  public Variable<TBfloat16> bf16Copy(WeightVariable weight) {
    return bf16Copies.get(weight.name());
  }

  /**
   * Reads several variables' current values, fetching up to {@link #LOAD_GROUP_BYTES} per session
   * run: the first run of every distinct fetch set costs TensorFlow an executor (~20 ms on a
   * 30-layer graph), so reading an adapter one variable at a time took seconds.
   */
  public List<float[]> read(List<WeightVariable> variables) {
    List<float[]> values = new ArrayList<>(variables.size());
    for (List<WeightVariable> group : groups(variables)) {
      Session.Runner runner = session.runner();
      group.forEach(v -> runner.fetch(v.variable()));
      try (Result result = runner.run()) {
        for (int i = 0; i < group.size(); i++) {
          values.add(HostTensors.toArray((TFloat32) result.get(i)));
        }
      }
    }
    return values;
  }

  /**
   * Writes several variables (and their bf16 copies), up to {@link #LOAD_GROUP_BYTES} per session
   * run; every length is checked before anything is written.
   */
  public void assign(List<WeightVariable> variables, List<float[]> values) {
    if (variables.size() != values.size()) {
      throw new IllegalArgumentException(
          variables.size() + " variables but " + values.size() + " value arrays");
    }
    for (int i = 0; i < variables.size(); i++) {
      WeightVariable variable = variables.get(i);
      if (values.get(i).length != variable.numel()) {
        throw new IllegalArgumentException(
            variable.name()
                + " needs "
                + variable.numel()
                + " values for shape "
                + Arrays.toString(variable.shape())
                + ", got "
                + values.get(i).length);
      }
    }
    java.util.Iterator<float[]> next = values.iterator(); // groups keep the variables' order
    assignInGroups(variables, v -> HostTensors.of(v.shape(), next.next()));
  }

  /** Consecutive runs of variables of up to {@link #LOAD_GROUP_BYTES} each (at least one). */
  public static List<List<WeightVariable>> groups(List<WeightVariable> variables) {
    return groups(variables, v -> v.numel() * 4);
  }

  /** Consecutive runs of items of up to {@link #LOAD_GROUP_BYTES} each (at least one item). */
  private static <T> List<List<T>> groups(
      List<T> items, java.util.function.ToLongFunction<T> bytesOf) {
    List<List<T>> groups = new ArrayList<>();
    List<T> current = new ArrayList<>();
    long bytes = 0;
    for (T item : items) {
      long size = bytesOf.applyAsLong(item);
      if (!current.isEmpty() && bytes + size > LOAD_GROUP_BYTES) {
        groups.add(current);
        current = new ArrayList<>();
        bytes = 0;
      }
      current.add(item);
      bytes += size;
    }
    if (!current.isEmpty()) {
      groups.add(current);
    }
    return groups;
  }

  /** Reads a variable's current value. */
  public float[] read(WeightVariable variable) {
    return read(List.of(variable)).get(0);
  }

  /** Host bytes staged per session run while loading base weights. */
  private static final long LOAD_GROUP_BYTES = 64L << 20;

  /**
   * Copies every base weight from the checkpoint, in groups of up to {@link #LOAD_GROUP_BYTES}
   * assigned by one session run each: TensorFlow prepares an executor for every distinct set of
   * feeds and targets, ~20 ms on a 30-layer graph, so one run per weight made loading a 135 M Llama
   * take 6-7 s; host memory stays bounded by one group.
   */
  void loadBaseWeights(Checkpoint checkpoint) {
    assignInGroups(
        List.copyOf(baseWeights.values()),
        w -> HostTensors.toFloat32(checkpoint.info(w.name()), checkpoint.bytes(w.name())));
    // Quantized on the host, then fed, a group of weights per session run as above.
    for (List<QuantizedWeight> group :
        groups(List.copyOf(quantizedWeights.values()), q -> q.numel() * 4)) {
      Session.Runner runner = session.runner();
      List<org.tensorflow.Tensor> tensors = new ArrayList<>();
      try {
        for (QuantizedWeight q : group) {
          List<org.tensorflow.Tensor> encoded = q.encode(checkpoint.floats(q.name()));
          tensors.addAll(encoded);
          q.feed(runner, encoded);
        }
        runner.run().close();
      } finally {
        tensors.forEach(org.tensorflow.Tensor::close);
      }
    }
  }

  /** Trainable adapter parameters. */
  public long trainableParameterCount() {
    return trainableVariables().stream().mapToLong(WeightVariable::numel).sum();
  }

  @Override
  public void close() {
    session.close();
    dev.lora4j.model.HandGradient.release(graph);
    graph.close();
  }
}
