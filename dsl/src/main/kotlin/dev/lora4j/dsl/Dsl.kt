package dev.lora4j.dsl

/**
 * Marks the plan builders, so that inside an inner block (say `training { }`) the outer block's
 * functions (`target(...)`) cannot be called by accident.
 */
@DslMarker @Target(AnnotationTarget.CLASS) annotation class LoraDsl

/**
 * A LoRA plan for the checkpoint directory [base], validated.
 *
 * ```
 * val plan = lora(base = "runs/base-model") {
 *   defaults { rank = 8; alpha = 16.0 }
 *   target("c_attn", slices = setOf(Slice.Q, Slice.V))
 *   training { maxSteps = 1000; schedule = cosine(warmup = steps(100)) }
 *   data { train("samples/data/fortunes.txt.gz"); seqLen = 128 }
 * }
 * ```
 *
 * @throws PlanValidationException listing every broken rule
 */
fun lora(base: String, block: LoraPlanBuilder.() -> Unit): LoraPlan =
  LoraPlanBuilder(base).apply(block).build()

/**
 * The receiver of `lora { }`: adapter defaults, target rules in order, and the training, data and
 * quantization blocks. Each block may be opened more than once; it continues where it left off.
 */
@LoraDsl
class LoraPlanBuilder internal constructor(private val base: String) {
  private val defaults = DefaultsBuilder()
  private val targets = mutableListOf<TargetBuilder>()
  private var training: TrainingBuilder? = null
  private var data: DataBuilder? = null
  private var quantization: QuantizationBuilder? = null

  /** The adapter every target gets unless its block overrides it. */
  fun defaults(block: DefaultsBuilder.() -> Unit) {
    defaults.apply(block)
  }

  /**
   * Modules whose path is [name] or ends with `"." + name` (PEFT's list rule), e.g. `"c_attn"` or
   * `"mlp.c_proj"`; [slices] adapts only those slices of a fused projection.
   */
  fun target(name: String, slices: Set<Slice> = emptySet(), block: TargetBuilder.() -> Unit = {}) {
    add(TargetSelector.Suffix(name), slices, block)
  }

  /** Modules whose whole path matches [regex] (Python's `re.fullmatch`). */
  fun target(regex: Regex, block: TargetBuilder.() -> Unit = {}) {
    val target = add(TargetSelector.Pattern(regex.pattern), emptySet(), block)
    if (regex.options.isNotEmpty()) {
      target.problems +=
        "regex options ${regex.options} are not kept in a plan; write inline flags such as (?i) " +
          "in the pattern instead"
    }
  }

  /** Like `target(Regex(pattern))`, but an invalid [pattern] is reported by `build()`. */
  fun targetRegex(pattern: String, block: TargetBuilder.() -> Unit = {}) {
    add(TargetSelector.Pattern(pattern), emptySet(), block)
  }

  /** A ready-made rule, e.g. from [parseTargetPattern]; [block] may add overrides. */
  fun target(rule: TargetRule, block: TargetBuilder.() -> Unit = {}) {
    targets += TargetBuilder(rule).apply(block)
  }

  /** Every projection except the output head. */
  fun allLinear(block: TargetBuilder.() -> Unit = {}) {
    add(TargetSelector.AllLinear, emptySet(), block)
  }

  fun training(block: TrainingBuilder.() -> Unit) {
    (training ?: TrainingBuilder().also { training = it }).apply(block)
  }

  fun data(block: DataBuilder.() -> Unit) {
    (data ?: DataBuilder().also { data = it }).apply(block)
  }

  fun quantization(block: QuantizationBuilder.() -> Unit) {
    (quantization ?: QuantizationBuilder().also { quantization = it }).apply(block)
  }

  /**
   * The plan, validated.
   *
   * @throws PlanValidationException listing every problem
   */
  fun build(): LoraPlan {
    val plan =
      LoraPlan(
        base = base,
        defaults = defaults.build(),
        targets = targets.map { it.build() },
        training = training?.build() ?: TrainingPlan(),
        data = data?.build(),
        quantization = quantization?.build() ?: QuantizationPlan(),
      )
    val errors = mutableListOf<String>()
    targets.forEachIndexed { i, t -> t.problems.forEach { errors += "targets[$i].$it" } }
    errors += plan.validationErrors()
    if (errors.isNotEmpty()) throw PlanValidationException(errors)
    return plan
  }

  private fun add(
    select: TargetSelector,
    slices: Set<Slice>,
    block: TargetBuilder.() -> Unit,
  ): TargetBuilder {
    val target = TargetBuilder(TargetRule(select, slices)).apply(block)
    targets += target
    return target
  }
}

/** The receiver of `defaults { }`; starts from PEFT's defaults (r 8, alpha 8, no dropout). */
@LoraDsl
class DefaultsBuilder internal constructor() {
  var rank: Int = 8
  var alpha: Double = 8.0
  var dropout: Double = 0.0
  var init: LoraInit = LoraInit.KAIMING_UNIFORM
  var rsLora: Boolean = false

  internal fun build(): AdapterDefaults = AdapterDefaults(rank, alpha, dropout, init, rsLora)
}

/**
 * The receiver of a target block: overrides of the defaults for the modules this target selects
 * (null keeps the default or an earlier target's value), layer ranges and exclusions.
 */
@LoraDsl
class TargetBuilder internal constructor(private val start: TargetRule) {
  var rank: Int? = start.rank
  var alpha: Double? = start.alpha
  var dropout: Double? = start.dropout
  var init: LoraInit? = start.init
  private val layers = start.layers.toMutableSet()
  private val exclude = start.exclude.toMutableList()
  internal val problems = mutableListOf<String>()

  /** Adapts only layers (blocks) in [range], e.g. `layers(0..3)`; may be called again to add. */
  fun layers(range: IntRange) {
    if (range.isEmpty()) problems += emptyRangeMessage("layers", range.first, range.last)
    layers += range
  }

  /** Adapts only these layer (block) indices. */
  fun layers(vararg indices: Int) {
    layers += indices.toList()
  }

  /** Leaves out modules whose path is one of [names] or ends with `"." + name`. */
  fun exclude(vararg names: String) {
    exclude += names
  }

  internal fun build(): TargetRule =
    start.copy(
      layers = layers.toSet(),
      exclude = exclude.toList(),
      rank = rank,
      alpha = alpha,
      dropout = dropout,
      init = init,
    )
}

/**
 * The receiver of `training { }`. The optimizer, schedule and warm-up helpers (`adamW`, `cosine`,
 * `steps`, ...) are members, so they are at hand here and nowhere else.
 */
@LoraDsl
class TrainingBuilder internal constructor() {
  var optimizer: Optimizer = Optimizer.AdamW()
  /** LoRA+: B's learning rate is `lr * loraPlusRatio`. */
  var loraPlusRatio: Double? = null
  var schedule: Schedule = Schedule.Constant()
  var batchSize: Int = 8
  var gradAccumulation: Int = 1
  /** Set this or [epochs]; one epoch when neither is set. */
  var maxSteps: Int? = null
  var epochs: Int? = null
  var maxGradNorm: Double? = 1.0
  var precision: Precision = Precision.F32
  var seed: Long = 42
  var evalEvery: Int? = null
  var checkpointEvery: Int? = null
  var keepCheckpoints: Int? = null
  private var earlyStopping: EarlyStopping? = null

  fun adamW(
    lr: Double = 2e-4,
    betas: Pair<Double, Double> = 0.9 to 0.999,
    eps: Double = 1e-8,
    weightDecay: Double = 0.0,
  ): Optimizer = Optimizer.AdamW(lr, betas.first, betas.second, eps, weightDecay)

  fun sgd(lr: Double, momentum: Double = 0.0, weightDecay: Double = 0.0): Optimizer =
    Optimizer.Sgd(lr, momentum, weightDecay)

  fun constant(warmup: Warmup = Warmup.NONE): Schedule = Schedule.Constant(warmup)

  fun linear(warmup: Warmup = Warmup.NONE, minLrRatio: Double = 0.0): Schedule =
    Schedule.Linear(warmup, minLrRatio)

  fun cosine(warmup: Warmup = Warmup.NONE, minLrRatio: Double = 0.0): Schedule =
    Schedule.Cosine(warmup, minLrRatio)

  /** A warm-up of [n] optimizer steps. */
  fun steps(n: Int): Warmup = Warmup.Steps(n)

  /** A warm-up over [fraction] of all optimizer steps. */
  fun ratio(fraction: Double): Warmup = Warmup.Ratio(fraction)

  /** Stops after [patience] evaluations without an improvement of more than [minDelta]. */
  fun earlyStopping(patience: Int, minDelta: Double = 0.0) {
    earlyStopping = EarlyStopping(patience, minDelta)
  }

  internal fun build(): TrainingPlan =
    TrainingPlan(
      optimizer = optimizer,
      loraPlusRatio = loraPlusRatio,
      schedule = schedule,
      batchSize = batchSize,
      gradAccumulation = gradAccumulation,
      maxSteps = maxSteps,
      epochs = TrainingPlan.defaultEpochs(maxSteps, epochs),
      maxGradNorm = maxGradNorm,
      precision = precision,
      seed = seed,
      evalEvery = evalEvery,
      checkpointEvery = checkpointEvery,
      keepCheckpoints = keepCheckpoints,
      earlyStopping = earlyStopping,
    )
}

/** The receiver of `data { }`: the files, their format and how they become sequences. */
@LoraDsl
class DataBuilder internal constructor() {
  private var train: String = ""
  private var validation: String? = null
  var format: DataFormat = DataFormat.TEXT
  var seqLen: Int = 512
  var validationSplit: Double = 0.0
  var maskPrompt: Boolean = false

  /** The training file. */
  fun train(path: String) {
    train = path
  }

  /** A separate validation file (instead of [validationSplit]). */
  fun validation(path: String) {
    validation = path
  }

  internal fun build(): DataPlan =
    DataPlan(train, validation, format, seqLen, validationSplit, maskPrompt)
}

/** The receiver of `quantization { }`. */
@LoraDsl
class QuantizationBuilder internal constructor() {
  var base: Quantization = Quantization.NONE
  var doubleQuant: Boolean = false

  internal fun build(): QuantizationPlan = QuantizationPlan(base, doubleQuant)
}
