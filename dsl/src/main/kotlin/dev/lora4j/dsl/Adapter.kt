package dev.lora4j.dsl

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable

/**
 * How a fresh adapter's A factor starts. B always starts at zero in both, so a fresh adapter leaves
 * the base model's output unchanged; only the spread of A (and so the first steps) differs.
 */
@Serializable
enum class LoraInit {
  /** PEFT's default (`init_lora_weights: true`): A kaiming-uniform with a = sqrt(5). */
  @SerialName("kaiming_uniform") KAIMING_UNIFORM,
  /** PEFT's `"gaussian"`: A ~ N(0, (1/r)^2). */
  @SerialName("gaussian") GAUSSIAN,
}

/**
 * A named output slice of a fused projection, such as the q, k and v thirds of GPT-2's `c_attn`.
 * The LoRA paper adapted only the q and v slices of GPT-2 (`c_attn[q,v]`); each chosen slice gets
 * its own rank-r pair and the others get no parameters.
 */
@Serializable
enum class Slice(
  /** The slice's lower-case name, as architectures and target patterns spell it. */
  val sliceName: String
) {
  @SerialName("q") Q("q"),
  @SerialName("k") K("k"),
  @SerialName("v") V("v");

  override fun toString(): String = sliceName

  companion object {
    /** The slice called [name] (any case), or null. */
    @JvmStatic
    fun of(name: String): Slice? = values().firstOrNull { it.sliceName == name.trim().lowercase() }
  }
}

/**
 * The adapter every target gets unless its own block says otherwise. The values are PEFT's own
 * defaults (r 8, alpha 8, no dropout, kaiming-uniform A), so a plan without `defaults { }` means
 * what an `adapter_config.json` without those fields means.
 */
@Serializable
data class AdapterDefaults
@JvmOverloads
constructor(
  /** r: the adapter's inner dimension; 1..4096 here, at most min(in, out) per module. */
  val rank: Int = 8,
  /** The factor on B·A is alpha / rank (alpha / sqrt(rank) with [rsLora]). */
  val alpha: Double = 8.0,
  /** Dropout on the adapter's input while training; 0 switches it off. */
  val dropout: Double = 0.0,
  val init: LoraInit = LoraInit.KAIMING_UNIFORM,
  /** rsLoRA: scale by alpha / sqrt(rank), which keeps updates stable at high ranks. */
  val rsLora: Boolean = false,
) {
  /** The factor on B·A for an adapter of [rank] and [alpha] under this plan's scaling rule. */
  fun scale(rank: Int, alpha: Double): Double =
    if (rsLora) alpha / kotlin.math.sqrt(rank.toDouble()) else alpha / rank
}

/**
 * Which projections a target picks by name. A [Suffix] follows PEFT's list rule (the module path
 * equals the name or ends with `"." + name`), a [Pattern] is a regex that must match the whole path
 * (PEFT's string rule, Python's `re.fullmatch`), and [AllLinear] is every projection the
 * architecture exposes (never the output head).
 */
sealed class TargetSelector {
  /** True if the module at [path] is picked by this selector. */
  abstract fun matches(path: String): Boolean

  /** A module name or dotted suffix, e.g. `c_attn` or `mlp.c_proj`. */
  data class Suffix(val name: String) : TargetSelector() {
    override fun matches(path: String): Boolean = path == name || path.endsWith(".$name")

    override fun toString(): String = "suffix \"$name\""
  }

  /** A regex matched against the whole module path; kept as its source text. */
  data class Pattern(val regex: String) : TargetSelector() {
    private val compiled: Regex by lazy { Regex(regex) }

    override fun matches(path: String): Boolean = compiled.matches(path)

    override fun toString(): String = "regex \"$regex\""
  }

  /** Every linear projection; the output head is never among them. */
  object AllLinear : TargetSelector() {
    override fun matches(path: String): Boolean = true

    override fun toString(): String = "all-linear"
  }
}

/**
 * One target block of a plan: the projections it selects and what it sets for them. A rule selects
 * a module if [select] matches its path, its layer is in [layers] (empty = every layer) and no
 * [exclude] entry matches it (PEFT's list rule). When several rules select one module, each of
 * rank, alpha, dropout and init comes from the last rule that sets it (else from the plan's
 * defaults), and the slices come from the last rule that selects the module.
 */
@Serializable(with = TargetRuleSerializer::class)
data class TargetRule
@JvmOverloads
constructor(
  val select: TargetSelector,
  /** For a fused projection, the slices to adapt; empty adapts the whole output. */
  val slices: Set<Slice> = emptySet(),
  /** Layer (block) indices to adapt; empty adapts every layer. */
  val layers: Set<Int> = emptySet(),
  /** Module names or dotted suffixes this rule leaves alone, e.g. `mlp.c_proj`. */
  val exclude: List<String> = emptyList(),
  val rank: Int? = null,
  val alpha: Double? = null,
  val dropout: Double? = null,
  val init: LoraInit? = null,
) {
  /** True if this rule puts an adapter on [projection]. */
  fun selects(projection: ProjectionInfo): Boolean =
    select.matches(projection.name) &&
      (layers.isEmpty() || projection.layer in layers) &&
      exclude.none { projection.name == it || projection.name.endsWith(".$it") }

  fun withRank(rank: Int?): TargetRule = copy(rank = rank)

  fun withAlpha(alpha: Double?): TargetRule = copy(alpha = alpha)

  fun withDropout(dropout: Double?): TargetRule = copy(dropout = dropout)

  fun withInit(init: LoraInit?): TargetRule = copy(init = init)

  fun withSlices(vararg slices: Slice): TargetRule = copy(slices = slices.toSet())

  /** Adds layer indices to [layers]. */
  fun withLayers(vararg layers: Int): TargetRule = copy(layers = this.layers + layers.toSet())

  /**
   * Adds the layers [first]..[last] (both included) to [layers].
   *
   * @throws PlanValidationException if the range is empty
   */
  fun withLayerRange(first: Int, last: Int): TargetRule {
    if (first > last)
      throw PlanValidationException(listOf(emptyRangeMessage("layers", first, last)))
    return copy(layers = layers + (first..last).toSet())
  }

  /** Adds names or dotted suffixes to [exclude]. */
  fun withExclude(vararg names: String): TargetRule = copy(exclude = exclude + names)

  /** `suffix "c_attn" [q, v]`, `regex "..."`, `all-linear`: how messages name this rule. */
  fun describe(): String =
    select.toString() + if (slices.isEmpty()) "" else slices.joinToString(", ", " [", "]")

  companion object {
    /** Modules whose path equals [name] or ends with `"." + name`, optionally only [slices]. */
    @JvmStatic
    fun suffix(name: String, vararg slices: Slice): TargetRule =
      TargetRule(TargetSelector.Suffix(name), slices = slices.toSet())

    /** Modules whose whole path matches [pattern]. */
    @JvmStatic fun regex(pattern: String): TargetRule = TargetRule(TargetSelector.Pattern(pattern))

    /** Every projection except the output head. */
    @JvmStatic fun allLinear(): TargetRule = TargetRule(TargetSelector.AllLinear)
  }
}

internal fun emptyRangeMessage(field: String, first: Int, last: Int): String =
  "$field($first..$last) is an empty range; write first..last with first <= last"
