package dev.lora4j.train;

import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.WeightVariable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * The optimizer compiled into the model's graph, over an explicit list of variables (the adapters
 * for LoRA; every base weight for full fine-tuning). The learning rate is an op of the step
 * variable, clipping and the update happen in one session run, and a non-finite loss or gradient
 * leaves every variable and the step unchanged.
 */
public final class TrainingGraph {
  private final CompiledModel model;
  private final Ops tf;
  private final List<WeightVariable> params;
  private final OptimizerConfig optimizer;
  private final ScheduleConfig schedule;
  private final long totalSteps;
  private final Double maxGradNorm;
  private final int accumulation;

  private final Variable<TInt64> step;
  private final org.tensorflow.op.core.Placeholder<TInt64> stepFeed;
  private final Op setStepOp;
  private long stepCount;
  private final Map<String, WeightVariable> slots = new LinkedHashMap<>();
  private final List<Op> initOps = new ArrayList<>();
  private final Operand<TFloat32> learningRate;
  private final Operand<TFloat32> scoredTokens;

  // accumulation == 1: one op does forward, backward and update.
  private Op updateOp;
  private Operand<TFloat32> gradNorm;
  private Operand<TFloat32> clipCoef;
  private Operand<TBool> finite;

  // accumulation > 1: micro-batches add scaled gradients; the update uses their token-weighted
  // mean.
  private final List<WeightVariable> accumulators = new ArrayList<>();
  private Variable<TFloat32> accumulatedTokens;
  private Op accumulateOp;

  /** A snapshot of one update. */
  public record StepResult(long step, float loss, float gradNorm, float clipCoef, float lr) {}

  /**
   * @param params the variables to train, in a stable order (their optimizer slots follow it)
   * @param maxGradNorm null for no clipping
   * @param accumulation micro-batches per update
   */
  public TrainingGraph(
      CompiledModel model,
      List<WeightVariable> params,
      OptimizerConfig optimizer,
      ScheduleConfig schedule,
      long totalSteps,
      Double maxGradNorm,
      int accumulation) {
    optimizer.validate();
    schedule.validate(totalSteps);
    if (totalSteps < 1) {
      throw new IllegalArgumentException("steps must be >= 1, was " + totalSteps);
    }
    if (accumulation < 1) {
      throw new IllegalArgumentException(
          "gradient accumulation must be >= 1 micro-batch, was " + accumulation);
    }
    if (maxGradNorm != null && !(maxGradNorm > 0)) {
      throw new IllegalArgumentException("max grad norm must be > 0, was " + maxGradNorm);
    }
    if (params.isEmpty()) {
      throw new IllegalArgumentException("nothing to train: the model has no adapter variables");
    }
    this.model = model;
    this.tf = model.ops().withSubScope("train");
    this.params = List.copyOf(params);
    this.optimizer = optimizer;
    this.schedule = schedule;
    this.totalSteps = totalSteps;
    this.maxGradNorm = maxGradNorm;
    this.accumulation = accumulation;

    step = scalarStep();
    stepFeed = tf.withName("step_feed").placeholder(TInt64.class);
    setStepOp = tf.assign(step, stepFeed);
    learningRate = buildLearningRate();
    scoredTokens = tf.sum(model.lossMaskPlaceholder(), tf.constant(new int[] {0, 1}));
    List<Operand<TFloat32>> grads = model.gradientsOf(this.params);
    if (accumulation == 1) {
      updateOp = buildUpdate(grads, tf.math.isFinite(model.lossOp()));
    } else {
      buildAccumulation(grads);
    }
    model.session().runner().addTarget(tf.withControlDependencies(initOps).noOp()).run().close();
  }

  private Variable<TInt64> scalarStep() {
    Variable<TInt64> v = tf.withName("step").variable(Shape.scalar(), TInt64.class);
    initOps.add(tf.assign(v, tf.constant(0L)));
    return v;
  }

  private WeightVariable zeros(String name, long[] shape) {
    WeightVariable v = WeightVariable.create(tf, name, shape);
    initOps.add(tf.assign(v.variable(), tf.zeros(tf.constant(shape), TFloat32.class)));
    return v;
  }

  /** lr(k) = base * factor(k), computed in float64 from the step variable. */
  private Operand<TFloat32> buildLearningRate() {
    Operand<TFloat64> k = tf.dtypes.cast(step, TFloat64.class);
    long warmup = schedule.warmup(totalSteps);
    Operand<TFloat64> one = tf.constant(1.0);
    Operand<TFloat64> warm = tf.math.div(k, tf.constant((double) Math.max(1, warmup)));
    Operand<TFloat64> progress =
        tf.math.minimum(
            one,
            tf.math.div(
                tf.math.sub(k, tf.constant((double) warmup)),
                tf.constant((double) Math.max(1, totalSteps - warmup))));
    Operand<TFloat64> min = tf.constant(schedule.minLrRatio());
    Operand<TFloat64> decay =
        switch (schedule.kind()) {
          case CONSTANT -> one;
          case LINEAR ->
              tf.math.add(min, tf.math.mul(tf.math.sub(one, min), tf.math.sub(one, progress)));
          case COSINE ->
              tf.math.add(
                  min,
                  tf.math.mul(
                      tf.math.sub(one, min),
                      tf.math.mul(
                          tf.constant(0.5),
                          tf.math.add(
                              one, tf.math.cos(tf.math.mul(tf.constant(Math.PI), progress))))));
        };
    Operand<TFloat64> factor =
        tf.select(tf.math.less(k, tf.constant((double) warmup)), warm, decay);
    return tf.withName("learning_rate")
        .dtypes
        .cast(tf.math.mul(tf.constant(optimizer.lr()), factor), TFloat32.class);
  }

  private void buildAccumulation(List<Operand<TFloat32>> grads) {
    accumulatedTokens = tf.withName("accumulated_tokens").variable(Shape.scalar(), TFloat32.class);
    initOps.add(tf.assign(accumulatedTokens, tf.constant(0f)));
    List<Op> adds = new ArrayList<>();
    for (int i = 0; i < params.size(); i++) {
      WeightVariable acc = zeros(params.get(i).name() + ".grad_accumulator", params.get(i).shape());
      accumulators.add(acc);
      // The mean loss's gradient times the scored tokens is the summed loss's gradient.
      adds.add(tf.assignAdd(acc.variable(), tf.math.mul(grads.get(i), scoredTokens)));
    }
    adds.add(tf.assignAdd(accumulatedTokens, scoredTokens));
    accumulateOp = tf.withControlDependencies(adds).noOp();
    Operand<TFloat32> denominator = tf.math.maximum(accumulatedTokens, tf.constant(1f));
    List<Operand<TFloat32>> mean = new ArrayList<>();
    for (WeightVariable acc : accumulators) {
      mean.add(tf.math.div(acc.variable(), denominator));
    }
    Op update = buildUpdate(mean, tf.constant(true));
    List<Op> resets = new ArrayList<>();
    Ops after = tf.withControlDependencies(List.of(update));
    for (WeightVariable acc : accumulators) {
      resets.add(after.assign(acc.variable(), after.zerosLike(acc.variable())));
    }
    resets.add(after.assign(accumulatedTokens, after.constant(0f)));
    updateOp = tf.withControlDependencies(resets).noOp();
  }

  /** Clip, then AdamW or SGD, all gated on finiteness; returns the op that runs the update. */
  private Op buildUpdate(List<Operand<TFloat32>> grads, Operand<TBool> lossFinite) {
    List<Operand<TFloat32>> squares = new ArrayList<>();
    for (Operand<TFloat32> g : grads) {
      squares.add(tf.sum(tf.math.square(g), tf.constant(rangeOf(g))));
    }
    gradNorm = tf.withName("grad_norm").math.sqrt(tf.math.addN(squares));
    clipCoef =
        maxGradNorm == null
            ? tf.constant(1f)
            : tf.math.minimum(
                tf.constant(1f),
                tf.math.div(
                    tf.constant(maxGradNorm.floatValue()),
                    tf.math.add(gradNorm, tf.constant(1e-6f))));
    finite = tf.math.logicalAnd(lossFinite, tf.math.isFinite(gradNorm));
    Operand<TFloat64> t = tf.math.add(tf.dtypes.cast(step, TFloat64.class), tf.constant(1.0));
    List<Op> assigns = new ArrayList<>();
    for (int i = 0; i < params.size(); i++) {
      WeightVariable param = params.get(i);
      boolean isB = param.name().contains(".lora_B.");
      Operand<TFloat32> lr =
          isB && optimizer.loraPlusRatio() != 1
              ? tf.math.mul(learningRate, tf.constant((float) optimizer.loraPlusRatio()))
              : learningRate;
      // Multiplying by the clip coefficient ties every update to every gradient, so no variable
      // is written before the whole backward pass has read it.
      Operand<TFloat32> g = tf.math.mul(grads.get(i), clipCoef);
      Variable<TFloat32> p = param.variable();
      if (optimizer.kind() == OptimizerConfig.Kind.ADAMW) {
        assigns.addAll(adamW(param, p, g, lr, t));
      } else {
        assigns.addAll(sgd(param, p, g, lr));
      }
    }
    Ops afterUpdates = tf.withControlDependencies(assigns);
    Op increment =
        afterUpdates.assignAdd(
            step,
            afterUpdates.select(finite, afterUpdates.constant(1L), afterUpdates.constant(0L)));
    return tf.withControlDependencies(List.of(increment)).noOp();
  }

  /** torch.optim.AdamW, one tensor. */
  private List<Op> adamW(
      WeightVariable param,
      Variable<TFloat32> p,
      Operand<TFloat32> g,
      Operand<TFloat32> lr,
      Operand<TFloat64> t) {
    WeightVariable mSlot = zeros(param.name() + ".exp_avg", param.shape());
    WeightVariable vSlot = zeros(param.name() + ".exp_avg_sq", param.shape());
    slots.put(mSlot.name(), mSlot);
    slots.put(vSlot.name(), vSlot);
    Variable<TFloat32> m = mSlot.variable();
    Variable<TFloat32> v = vSlot.variable();
    float b1 = (float) optimizer.beta1();
    float b2 = (float) optimizer.beta2();
    Operand<TFloat32> newM =
        tf.math.add(tf.math.mul(m, tf.constant(b1)), tf.math.mul(g, tf.constant(1 - b1)));
    Operand<TFloat32> newV =
        tf.math.add(
            tf.math.mul(v, tf.constant(b2)), tf.math.mul(tf.math.mul(g, g), tf.constant(1 - b2)));
    Operand<TFloat64> one = tf.constant(1.0);
    Operand<TFloat64> bias1 = tf.math.sub(one, tf.math.pow(tf.constant(optimizer.beta1()), t));
    Operand<TFloat64> bias2 = tf.math.sub(one, tf.math.pow(tf.constant(optimizer.beta2()), t));
    Operand<TFloat32> stepSize = tf.math.div(lr, tf.dtypes.cast(bias1, TFloat32.class));
    Operand<TFloat32> bias2Sqrt = tf.dtypes.cast(tf.math.sqrt(bias2), TFloat32.class);
    Operand<TFloat32> denom =
        tf.math.add(
            tf.math.div(tf.math.sqrt(newV), bias2Sqrt), tf.constant((float) optimizer.eps()));
    Operand<TFloat32> decayed =
        tf.math.mul(
            p,
            tf.math.sub(
                tf.constant(1f), tf.math.mul(lr, tf.constant((float) optimizer.weightDecay()))));
    Operand<TFloat32> newP = tf.math.sub(decayed, tf.math.mul(stepSize, tf.math.div(newM, denom)));
    return List.of(
        tf.assign(m, tf.select(finite, newM, m)),
        tf.assign(v, tf.select(finite, newV, v)),
        assignWeight(param, tf.select(finite, newP, p)));
  }

  /**
   * Writes a trained variable and, in BF16 precision, its bfloat16 copy, which the next step's
   * matmuls read.
   */
  private Op assignWeight(WeightVariable param, Operand<TFloat32> value) {
    Op written = tf.assign(param.variable(), value);
    Variable<TBfloat16> copy = model.bf16Copy(param);
    if (copy == null) {
      return written;
    }
    return tf.withControlDependencies(List.of(written))
        .assign(copy, tf.dtypes.cast(param.variable(), TBfloat16.class));
  }

  /** torch.optim.SGD with L2 weight decay and optional momentum, one tensor. */
  private List<Op> sgd(
      WeightVariable param, Variable<TFloat32> p, Operand<TFloat32> g, Operand<TFloat32> lr) {
    if (optimizer.weightDecay() != 0) {
      g = tf.math.add(g, tf.math.mul(p, tf.constant((float) optimizer.weightDecay())));
    }
    List<Op> ops = new ArrayList<>();
    Operand<TFloat32> direction = g;
    if (optimizer.momentum() != 0) {
      WeightVariable bufSlot = zeros(param.name() + ".momentum_buffer", param.shape());
      slots.put(bufSlot.name(), bufSlot);
      Variable<TFloat32> buf = bufSlot.variable();
      // torch starts the buffer at the first gradient; with a zero buffer that is the same.
      Operand<TFloat32> newBuf =
          tf.math.add(tf.math.mul(buf, tf.constant((float) optimizer.momentum())), g);
      ops.add(tf.assign(buf, tf.select(finite, newBuf, buf)));
      direction = newBuf;
    }
    Operand<TFloat32> newP = tf.math.sub(p, tf.math.mul(lr, direction));
    ops.add(assignWeight(param, tf.select(finite, newP, p)));
    return ops;
  }

  private static int[] rangeOf(Operand<TFloat32> g) {
    int rank = g.shape().numDimensions();
    int[] axes = new int[Math.max(rank, 0)];
    for (int i = 0; i < axes.length; i++) {
      axes[i] = i;
    }
    return axes;
  }

  public List<WeightVariable> params() {
    return params;
  }

  /**
   * Optimizer state by name (`<param>.exp_avg`, `<param>.exp_avg_sq`, `<param>.momentum_buffer`).
   */
  public Map<String, WeightVariable> slots() {
    return slots;
  }

  public int accumulation() {
    return accumulation;
  }

  public long totalSteps() {
    return totalSteps;
  }

  /** Optimizer steps done so far (updates skipped for a non-finite loss do not count). */
  public long step() {
    return stepCount;
  }

  /** Reads the step variable from the session (tests check it against {@link #step()}). */
  public long stepVariableValue() {
    try (Result r = model.session().runner().fetch(step).run()) {
      return ((TInt64) r.get(0)).getLong();
    }
  }

  /** Sets the step, e.g. when resuming. */
  public void setStep(long value) {
    try (TInt64 t = TInt64.scalarOf(value)) {
      model.session().runner().feed(stepFeed, t).addTarget(setStepOp).run().close();
    }
    stepCount = value;
  }

  /**
   * One optimizer update over `accumulation` micro-batches (each [B, T] ids with a [B, T-1] loss
   * mask). The returned loss is the token-weighted mean over the micro-batches before the update.
   */
  public StepResult step(List<int[][]> microIds, List<float[][]> microMasks, long dropoutSeed) {
    if (microIds.size() != accumulation) {
      throw new IllegalArgumentException(
          "expected " + accumulation + " micro-batches, got " + microIds.size());
    }
    if (accumulation == 1) {
      try (Result r =
          runMicroBatch(
              microIds.get(0),
              microMasks.get(0),
              dropoutSeed,
              stepCount,
              updateOp,
              null,
              gradNorm,
              clipCoef,
              learningRate)) {
        return finish(
            ((TFloat32) r.get(0)).getFloat(),
            ((TFloat32) r.get(1)).getFloat(),
            ((TFloat32) r.get(2)).getFloat(),
            ((TFloat32) r.get(3)).getFloat());
      }
    }
    double lossSum = 0;
    double tokens = 0;
    long current = stepCount;
    for (int i = 0; i < accumulation; i++) {
      try (Result r =
          runMicroBatch(
              microIds.get(i),
              microMasks.get(i),
              dropoutSeed,
              current * accumulation + i,
              accumulateOp,
              null,
              scoredTokens)) {
        float loss = ((TFloat32) r.get(0)).getFloat();
        float n = ((TFloat32) r.get(1)).getFloat();
        lossSum += (double) loss * n;
        tokens += n;
      }
    }
    float meanLoss = (float) (lossSum / Math.max(1, tokens));
    // A non-finite micro-batch loss poisons the accumulated gradient, whose norm gates the update.
    try (Result r =
        model
            .session()
            .runner()
            .fetch(gradNorm)
            .fetch(clipCoef)
            .fetch(learningRate)
            .addTarget(updateOp)
            .run()) {
      return finish(
          meanLoss,
          ((TFloat32) r.get(0)).getFloat(),
          ((TFloat32) r.get(1)).getFloat(),
          ((TFloat32) r.get(2)).getFloat());
    }
  }

  /**
   * One optimizer update (accumulation 1) run with TensorFlow's full trace: the returned metadata's
   * step stats time every op of the step. For profiling; the update is applied as by {@link #step}.
   */
  public RunMetadata tracedStep(int[][] ids, float[][] mask) {
    if (accumulation != 1) {
      throw new IllegalStateException("tracedStep profiles one micro-batch: accumulation is 1");
    }
    RunOptions trace =
        RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build();
    try (Result r = runMicroBatch(ids, mask, 0, stepCount, updateOp, trace)) {
      finish(((TFloat32) r.get(0)).getFloat(), 0f, 1f, 0f);
      return r.getMetadata().orElseThrow();
    }
  }

  /**
   * One session run on a micro-batch in training mode: feeds ids, mask and the dropout seed (seed,
   * counter), runs target and fetches the loss followed by extra; with trace options (null for
   * none), the result carries the run's metadata.
   */
  private Result runMicroBatch(
      int[][] batchIds,
      float[][] batchMask,
      long dropoutSeed,
      long counter,
      Op target,
      RunOptions trace,
      Operand<?>... extra) {
    model.checkInputs(batchIds); // a clear error for rows the model cannot take, not a graph error
    try (TInt32 ids = CompiledModel.idsTensor(batchIds);
        TFloat32 mask = CompiledModel.maskTensor(batchMask);
        TBool training = TBool.scalarOf(true);
        TInt64 seed = TInt64.vectorOf(dropoutSeed, counter)) {
      var runner =
          model
              .session()
              .runner()
              .feed(model.inputIdsPlaceholder(), ids)
              .feed(model.lossMaskPlaceholder(), mask)
              .feed(model.trainingPlaceholder(), training)
              .feed(model.dropoutSeedPlaceholder(), seed)
              .fetch(model.lossOp());
      for (Operand<?> e : extra) {
        runner.fetch(e);
      }
      runner.addTarget(target);
      if (trace != null) {
        return runner.setOptions(trace).runAndFetchMetadata();
      }
      return runner.run();
    }
  }

  /** The graph counts a step only when the loss and gradients were finite; mirror that here. */
  private StepResult finish(float loss, float norm, float coef, float lr) {
    if (Float.isFinite(loss) && Float.isFinite(norm)) {
      stepCount++;
    }
    return new StepResult(stepCount, loss, norm, coef, lr);
  }

  public CompiledModel model() {
    return model;
  }
}
