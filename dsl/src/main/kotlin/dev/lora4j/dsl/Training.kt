package dev.lora4j.dsl

import kotlin.math.PI
import kotlin.math.ceil
import kotlin.math.cos
import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable

/**
 * The optimizer that updates the adapter factors (the base weights are frozen and get no optimizer
 * state). [AdamW] is the usual choice; [Sgd] is there for parity tests and tiny experiments.
 */
@Serializable
sealed class Optimizer {
  /** The base learning rate; the schedule multiplies it, LoRA+ multiplies B's by its ratio. */
  abstract val lr: Double

  /** Adam with decoupled weight decay (Loshchilov and Hutter), PyTorch's `AdamW` defaults. */
  @Serializable
  @SerialName("adamw")
  data class AdamW
  @JvmOverloads
  constructor(
    override val lr: Double = 2e-4,
    val beta1: Double = 0.9,
    val beta2: Double = 0.999,
    val eps: Double = 1e-8,
    val weightDecay: Double = 0.0,
  ) : Optimizer()

  /** Plain SGD with optional momentum (PyTorch's `SGD`). */
  @Serializable
  @SerialName("sgd")
  data class Sgd
  @JvmOverloads
  constructor(
    override val lr: Double,
    val momentum: Double = 0.0,
    val weightDecay: Double = 0.0,
  ) : Optimizer()

  companion object {
    @JvmStatic
    @JvmOverloads
    fun adamW(
      lr: Double = 2e-4,
      beta1: Double = 0.9,
      beta2: Double = 0.999,
      eps: Double = 1e-8,
      weightDecay: Double = 0.0,
    ): Optimizer = AdamW(lr, beta1, beta2, eps, weightDecay)

    @JvmStatic
    @JvmOverloads
    fun sgd(lr: Double, momentum: Double = 0.0, weightDecay: Double = 0.0): Optimizer =
      Sgd(lr, momentum, weightDecay)
  }
}

/**
 * The learning-rate warm-up: a fixed number of optimizer steps, or a fraction of all steps (known
 * only once the data set's size is, when training runs by epochs).
 */
@Serializable
sealed class Warmup {
  /** The warm-up length in optimizer steps for a run of [totalSteps] steps. */
  abstract fun stepsFor(totalSteps: Int): Int

  /** A fixed number of optimizer steps. */
  @Serializable
  @SerialName("steps")
  data class Steps(val steps: Int) : Warmup() {
    override fun stepsFor(totalSteps: Int): Int = steps

    override fun toString(): String = "steps($steps)"
  }

  /** A fraction of all optimizer steps, rounded up. */
  @Serializable
  @SerialName("ratio")
  data class Ratio(val ratio: Double) : Warmup() {
    override fun stepsFor(totalSteps: Int): Int = ceil(ratio * totalSteps).toInt()

    override fun toString(): String = "ratio($ratio)"
  }

  companion object {
    /** No warm-up. */
    @JvmField val NONE: Warmup = Steps(0)

    @JvmStatic fun steps(steps: Int): Warmup = Steps(steps)

    @JvmStatic fun ratio(ratio: Double): Warmup = Ratio(ratio)
  }
}

/**
 * The learning-rate schedule: a linear warm-up from 0, then constant, linear or cosine decay to
 * `minLrRatio` times the base rate. [factor] follows Hugging Face's `get_*_schedule_with_warmup`
 * step for step, so runs can be compared with the reference trainer.
 */
@Serializable
sealed class Schedule {
  abstract val warmup: Warmup

  /**
   * The factor on the base learning rate at optimizer step [step] (0-based) of [totalSteps]: `step
   * / warmup` during warm-up, then the decay.
   */
  fun factor(step: Int, totalSteps: Int): Double {
    val warm = warmup.stepsFor(totalSteps)
    if (step < warm) return step.toDouble() / maxOf(1, warm)
    val progress = (step - warm).toDouble() / maxOf(1, totalSteps - warm)
    return when (this) {
      is Constant -> 1.0
      is Linear -> minLrRatio + (1 - minLrRatio) * maxOf(0.0, 1 - progress)
      is Cosine -> minLrRatio + (1 - minLrRatio) * maxOf(0.0, 0.5 * (1 + cos(PI * progress)))
    }
  }

  /** The base rate after warm-up, to the end. */
  @Serializable
  @SerialName("constant")
  data class Constant @JvmOverloads constructor(override val warmup: Warmup = Warmup.NONE) :
    Schedule()

  /** A straight line from the base rate down to `minLrRatio` times it at the last step. */
  @Serializable
  @SerialName("linear")
  data class Linear
  @JvmOverloads
  constructor(
    override val warmup: Warmup = Warmup.NONE,
    /** The rate at the last step, as a fraction of the base rate. */
    val minLrRatio: Double = 0.0,
  ) : Schedule()

  /** Half a cosine from the base rate down to `minLrRatio` times it at the last step. */
  @Serializable
  @SerialName("cosine")
  data class Cosine
  @JvmOverloads
  constructor(
    override val warmup: Warmup = Warmup.NONE,
    /** The rate at the last step, as a fraction of the base rate. */
    val minLrRatio: Double = 0.0,
  ) : Schedule()

  companion object {
    @JvmStatic @JvmOverloads fun constant(warmup: Warmup = Warmup.NONE): Schedule = Constant(warmup)

    @JvmStatic
    @JvmOverloads
    fun linear(warmup: Warmup = Warmup.NONE, minLrRatio: Double = 0.0): Schedule =
      Linear(warmup, minLrRatio)

    @JvmStatic
    @JvmOverloads
    fun cosine(warmup: Warmup = Warmup.NONE, minLrRatio: Double = 0.0): Schedule =
      Cosine(warmup, minLrRatio)
  }
}

/** The number format of the forward and backward pass; adapter weights are kept in float32. */
@Serializable
enum class Precision {
  @SerialName("f32") F32,
  /** bfloat16 compute, float32 master weights and optimizer state. */
  @SerialName("bf16") BF16,
}

/**
 * Stop when the validation loss has not improved by more than [minDelta] for [patience] evaluations
 * in a row; needs `evalEvery` and validation data.
 */
@Serializable
data class EarlyStopping
@JvmOverloads
constructor(
  val patience: Int,
  val minDelta: Double = 0.0,
)

/**
 * How to train: optimizer, schedule, batch shape, length, precision and bookkeeping. Run length is
 * [maxSteps] optimizer steps or [epochs] passes over the training data, exactly one of them; an
 * optimizer step sees `batchSize * gradAccumulation` sequences.
 */
@Serializable
data class TrainingPlan
@JvmOverloads
constructor(
  val optimizer: Optimizer = Optimizer.AdamW(),
  /** LoRA+: B's learning rate is `lr * loraPlusRatio`; null trains A and B at the same rate. */
  val loraPlusRatio: Double? = null,
  val schedule: Schedule = Schedule.Constant(),
  /** Sequences per forward pass. */
  val batchSize: Int = 8,
  /** Forward passes whose gradients are summed into one optimizer step. */
  val gradAccumulation: Int = 1,
  val maxSteps: Int? = null,
  /** One epoch when neither [maxSteps] nor epochs is given. */
  val epochs: Int? = 1,
  /** Clip the global gradient norm to this; null does not clip. */
  val maxGradNorm: Double? = 1.0,
  val precision: Precision = Precision.F32,
  /** Seeds adapter init, dropout, shuffling and the validation split. */
  val seed: Long = 42,
  /** Evaluate on the validation data every this many optimizer steps; null never does. */
  val evalEvery: Int? = null,
  /** Save a checkpoint every this many optimizer steps; null saves only at the end. */
  val checkpointEvery: Int? = null,
  /** How many periodic checkpoints to keep (oldest deleted first); null keeps all. */
  val keepCheckpoints: Int? = null,
  val earlyStopping: EarlyStopping? = null,
) {
  /** Fluent construction for Java; Kotlin code uses `training { }` inside `lora { }`. */
  class Builder internal constructor() {
    private var optimizer: Optimizer = Optimizer.AdamW()
    private var loraPlusRatio: Double? = null
    private var schedule: Schedule = Schedule.Constant()
    private var batchSize: Int = 8
    private var gradAccumulation: Int = 1
    private var maxSteps: Int? = null
    private var epochs: Int? = null
    private var maxGradNorm: Double? = 1.0
    private var precision: Precision = Precision.F32
    private var seed: Long = 42
    private var evalEvery: Int? = null
    private var checkpointEvery: Int? = null
    private var keepCheckpoints: Int? = null
    private var earlyStopping: EarlyStopping? = null

    fun optimizer(optimizer: Optimizer): Builder = apply { this.optimizer = optimizer }

    fun loraPlusRatio(ratio: Double?): Builder = apply { loraPlusRatio = ratio }

    fun schedule(schedule: Schedule): Builder = apply { this.schedule = schedule }

    fun batchSize(batchSize: Int): Builder = apply { this.batchSize = batchSize }

    fun gradAccumulation(steps: Int): Builder = apply { gradAccumulation = steps }

    fun maxSteps(maxSteps: Int?): Builder = apply { this.maxSteps = maxSteps }

    fun epochs(epochs: Int?): Builder = apply { this.epochs = epochs }

    fun maxGradNorm(norm: Double?): Builder = apply { maxGradNorm = norm }

    fun precision(precision: Precision): Builder = apply { this.precision = precision }

    fun seed(seed: Long): Builder = apply { this.seed = seed }

    fun evalEvery(steps: Int?): Builder = apply { evalEvery = steps }

    fun checkpointEvery(steps: Int?): Builder = apply { checkpointEvery = steps }

    fun keepCheckpoints(count: Int?): Builder = apply { keepCheckpoints = count }

    @JvmOverloads
    fun earlyStopping(patience: Int, minDelta: Double = 0.0): Builder = apply {
      earlyStopping = EarlyStopping(patience, minDelta)
    }

    /** The plan as set; validated with the whole [LoraPlan]. */
    fun build(): TrainingPlan =
      TrainingPlan(
        optimizer = optimizer,
        loraPlusRatio = loraPlusRatio,
        schedule = schedule,
        batchSize = batchSize,
        gradAccumulation = gradAccumulation,
        maxSteps = maxSteps,
        epochs = defaultEpochs(maxSteps, epochs),
        maxGradNorm = maxGradNorm,
        precision = precision,
        seed = seed,
        evalEvery = evalEvery,
        checkpointEvery = checkpointEvery,
        keepCheckpoints = keepCheckpoints,
        earlyStopping = earlyStopping,
      )
  }

  companion object {
    @JvmStatic fun builder(): Builder = Builder()

    /** One epoch when the run length is not given at all. */
    internal fun defaultEpochs(maxSteps: Int?, epochs: Int?): Int? =
      if (maxSteps == null && epochs == null) 1 else epochs
  }
}
