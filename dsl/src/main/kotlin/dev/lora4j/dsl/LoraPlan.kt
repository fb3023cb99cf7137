package dev.lora4j.dsl

import dev.lora4j.dsl.peft.PeftLoraConfig
import dev.lora4j.dsl.peft.PeftPlanMapping
import kotlinx.serialization.Serializable
import kotlinx.serialization.SerializationException

/**
 * A LoRA fine-tuning run as one immutable value: the base checkpoint, the adapter defaults, the
 * target rules, and how to train, on what data, over which base quantization. Build it with
 * `lora(base) { }` in Kotlin or [builder] in Java (both validate), read it with [fromJson] or
 * [fromPeftConfig], change it with `copy` (which does not validate: call [validated]), and resolve
 * its targets against a model's projections with [resolve].
 */
@Serializable
data class LoraPlan
@JvmOverloads
constructor(
  /** The base model: a Hugging Face checkpoint directory. */
  val base: String,
  val defaults: AdapterDefaults = AdapterDefaults(),
  /** In order: for a module selected by several rules, later rules win (see [TargetRule]). */
  @Serializable(with = TargetListSerializer::class) val targets: List<TargetRule> = emptyList(),
  val training: TrainingPlan = TrainingPlan(),
  /** Null for a plan that only describes adapters (a dry run, a PEFT config). */
  val data: DataPlan? = null,
  val quantization: QuantizationPlan = QuantizationPlan(),
) {
  /** Every rule this plan breaks, one message each (field, value, rule, fix); empty if valid. */
  fun validationErrors(): List<String> = PlanRules.check(this)

  /**
   * This plan, if valid.
   *
   * @throws PlanValidationException listing every problem
   */
  fun validated(): LoraPlan {
    val errors = validationErrors()
    if (errors.isNotEmpty()) throw PlanValidationException(errors)
    return this
  }

  /**
   * The adapters this plan puts on a model with these [projections], in projection order.
   *
   * @throws TargetResolutionException if a target matches nothing (listing the names that exist),
   *   asks for a slice a module lacks, or names layers or exclusions that do not exist
   */
  fun resolve(projections: List<ProjectionInfo>): List<ResolvedTarget> =
    TargetResolver.resolve(this, projections)

  /** The plan as pretty-printed JSON; [fromJson] reads it back to an equal plan. */
  fun toJson(): String = PlanJson.json.encodeToString(serializer(), this)

  /**
   * The adapter part as PEFT's `adapter_config.json`, rule by rule: suffix targets become a
   * `target_modules` list, anything else one combined regex (or `"all-linear"`), per-target rank
   * and alpha become `rank_pattern` / `alpha_pattern`, shared layers and exclusions become
   * `layers_to_transform` / `exclude_modules`. PEFT has no per-module dropout or init (they matter
   * only while training) and no slices: a `c_attn[q,v]` target appears as the whole `c_attn`. The
   * engine saves a sliced adapter as the equivalent whole-module one (rank n·r, B zero on the other
   * slices, alpha scaled to keep the scale) with [toPeftConfig] over the model's projections.
   *
   * @throws PlanValidationException if the targets have no PEFT form (an all-linear target whose
   *   layers or exclusions differ from the other targets')
   */
  fun toPeftConfig(): PeftLoraConfig = PeftPlanMapping.toPeft(this)

  /**
   * The exact PEFT config of the adapters this plan puts on a model with these [projections]: every
   * adapted module by full name, with its own rank and alpha where they differ from the defaults. A
   * sliced adapter on n slices is written as the equivalent whole-module adapter: rank n·r and
   * alpha n·alpha (sqrt(n)·alpha with rsLoRA), so the scale is unchanged.
   */
  fun toPeftConfig(projections: List<ProjectionInfo>): PeftLoraConfig =
    PeftPlanMapping.toPeftResolved(this, projections)

  /** Fluent construction for Java: `LoraPlan.builder(base).target(...).build()`. */
  class Builder internal constructor(private val base: String) {
    private var defaults = AdapterDefaults()
    private val targets = mutableListOf<TargetRule>()
    private var training = TrainingPlan()
    private var data: DataPlan? = null
    private var quantization = QuantizationPlan()

    fun defaults(defaults: AdapterDefaults): Builder = apply { this.defaults = defaults }

    fun rank(rank: Int): Builder = apply { defaults = defaults.copy(rank = rank) }

    fun alpha(alpha: Double): Builder = apply { defaults = defaults.copy(alpha = alpha) }

    fun dropout(dropout: Double): Builder = apply { defaults = defaults.copy(dropout = dropout) }

    fun init(init: LoraInit): Builder = apply { defaults = defaults.copy(init = init) }

    fun rsLora(rsLora: Boolean): Builder = apply { defaults = defaults.copy(rsLora = rsLora) }

    fun target(rule: TargetRule): Builder = apply { targets += rule }

    /** Adds a target written as a CLI target pattern, see [parseTargetPattern]. */
    fun target(pattern: String): Builder = apply { targets += parseTargetPattern(pattern) }

    fun training(training: TrainingPlan): Builder = apply { this.training = training }

    fun data(data: DataPlan?): Builder = apply { this.data = data }

    fun quantization(quantization: QuantizationPlan): Builder = apply {
      this.quantization = quantization
    }

    /**
     * The plan, validated.
     *
     * @throws PlanValidationException listing every problem
     */
    fun build(): LoraPlan =
      LoraPlan(base, defaults, targets.toList(), training, data, quantization).validated()
  }

  companion object {
    /** Starts a plan for Java callers; Kotlin code uses `lora(base) { }`. */
    @JvmStatic fun builder(base: String): Builder = Builder(base)

    /**
     * Reads a plan written by [toJson] (or by hand) and validates it.
     *
     * @throws PlanFormatException if the text is not a plan (bad JSON, an unknown field, a wrong
     *   type); the message carries the JSON path, e.g. `$.training.batchSize`
     * @throws PlanValidationException if it is a plan but an invalid one
     */
    @JvmStatic
    fun fromJson(text: String): LoraPlan {
      val plan =
        try {
          PlanJson.json.decodeFromString(serializer(), text)
        } catch (e: SerializationException) {
          throw PlanFormatException("not a valid lora4j plan: " + PlanJson.explain(e), e)
        }
      return plan.validated()
    }

    /**
     * The plan whose adapters PEFT's [config] describes, on [base], with default training and no
     * data. `rank_pattern` and `alpha_pattern` keys become later target rules that set only rank or
     * only alpha (restricted to the config's targets), so the rules resolve exactly as PEFT assigns
     * ranks and alphas. A key that matches no targeted module becomes a rule that [resolve] reports
     * as matching nothing.
     *
     * @throws PlanValidationException for what lora4j cannot train: DoRA, trained biases,
     *   `modules_to_save`, inits other than kaiming-uniform and gaussian, an `exclude_modules`
     *   regex, custom `layers_pattern`
     */
    @JvmStatic
    fun fromPeftConfig(config: PeftLoraConfig, base: String): LoraPlan =
      PeftPlanMapping.fromPeft(config, base).validated()
  }
}

/**
 * A plan that breaks one or more rules; [problems] has one message per broken rule, each naming the
 * field, the value, the rule and the fix, and the message lists them one a line.
 */
open class PlanValidationException
@JvmOverloads
constructor(
  val problems: List<String>,
  header: String = "invalid LoRA plan",
) :
  IllegalArgumentException(
    header +
      " (" +
      problems.size +
      (if (problems.size == 1) " problem" else " problems") +
      "):\n" +
      problems.joinToString("\n") { "  $it" }
  )

/**
 * Targets that do not fit the model they are resolved against: a target that matches no projection
 * (the message lists the names that exist and the closest ones), a slice the module lacks, layers
 * or exclusions that do not exist.
 */
class TargetResolutionException(problems: List<String>) :
  PlanValidationException(problems, "the plan's targets do not fit this model")

/**
 * Text that is not a plan at all: malformed JSON, an unknown field, a wrong type. The message
 * carries the JSON path of the problem (`at path: $.training.batchSize`).
 */
class PlanFormatException(message: String, cause: Throwable? = null) :
  IllegalArgumentException(message, cause)
