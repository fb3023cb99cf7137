@file:JvmName("Targets")

package dev.lora4j.dsl

/**
 * One linear projection of a model as target resolution sees it: its checkpoint module path (e.g.
 * `transformer.h.0.attn.c_attn`), its shape, the named output slices of a fused projection (`["q",
 * "k", "v"]` for GPT-2's `c_attn`, else empty) and its layer (block) index, -1 if none.
 */
data class ProjectionInfo
@JvmOverloads
constructor(
  val name: String,
  val inFeatures: Int,
  val outFeatures: Int,
  val slices: List<String> = emptyList(),
  val layer: Int = -1,
)

/**
 * The adapter a plan puts on one module, fully resolved: `out = base(x) + scale * B(A(dropout(x)))`
 * with [scale] = alpha / rank (alpha / sqrt(rank) with rsLoRA). For a sliced target, [slices] names
 * the adapted slices in the projection's order (each gets its own rank-[rank] pair); empty adapts
 * the whole output.
 */
data class ResolvedTarget(
  val module: String,
  val rank: Int,
  val alpha: Double,
  val scale: Double,
  val dropout: Double,
  val init: LoraInit,
  val slices: List<String>,
)

/** Target resolution against a model's projections: pure, every problem collected. */
internal object TargetResolver {
  fun resolve(plan: LoraPlan, projections: List<ProjectionInfo>): List<ResolvedTarget> {
    if (projections.isEmpty()) {
      throw TargetResolutionException(listOf("the model has no projections to adapt"))
    }
    val errors = mutableListOf<String>()
    val layers = projections.map { it.layer }.filter { it >= 0 }.toSortedSet()
    val selected =
      plan.targets.mapIndexed { i, rule ->
        checkRule("targets[$i]", rule, projections, layers, errors)
      }
    if (errors.isNotEmpty()) throw TargetResolutionException(errors)

    val d = plan.defaults
    val resolved = mutableListOf<ResolvedTarget>()
    for (p in projections) {
      val rules = plan.targets.filterIndexed { i, _ -> p in selected[i] }
      if (rules.isEmpty()) continue
      val rank = rules.lastOrNull { it.rank != null }?.rank ?: d.rank
      val alpha = rules.lastOrNull { it.alpha != null }?.alpha ?: d.alpha
      val dropout = rules.lastOrNull { it.dropout != null }?.dropout ?: d.dropout
      val init = rules.lastOrNull { it.init != null }?.init ?: d.init
      val slices = rules.last().slices.map { it.sliceName }.toSet()
      resolved +=
        ResolvedTarget(
          module = p.name,
          rank = rank,
          alpha = alpha,
          scale = d.scale(rank, alpha),
          dropout = dropout,
          init = init,
          slices = p.slices.filter { it in slices },
        )
    }
    return resolved
  }

  /** The projections [rule] selects; adds a message to [errors] for each problem. */
  private fun checkRule(
    field: String,
    rule: TargetRule,
    projections: List<ProjectionInfo>,
    layers: Set<Int>,
    errors: MutableList<String>,
  ): Set<ProjectionInfo> {
    val named = projections.filter { rule.select.matches(it.name) }
    if (named.isEmpty()) {
      errors +=
        "$field (${rule.describe()}) matches no projection of this model. " +
          describeNames(projections, wanted(rule.select))
      return emptySet()
    }
    val missingLayers = rule.layers.filter { it !in layers }.sorted()
    if (missingLayers.isNotEmpty()) {
      errors +=
        "$field.layers $missingLayers do not exist in this model (layers " +
          (if (layers.isEmpty()) "none" else "${layers.first()}..${layers.last()}") +
          ")"
    }
    rule.exclude.forEachIndexed { i, name ->
      if (projections.none { it.name == name || it.name.endsWith(".$name") }) {
        errors +=
          "$field.exclude[$i] \"$name\" matches no projection of this model. " +
            describeNames(projections, name)
      }
    }
    val chosen = named.filter { rule.selects(it) }.toSet()
    if (chosen.isEmpty() && missingLayers.isEmpty()) {
      errors +=
        "$field (${rule.describe()}) selects nothing: its ${named.size} matching projections " +
          "are all outside layers ${rule.layers.sorted()} or excluded by ${rule.exclude}"
    }
    if (rule.slices.isNotEmpty()) {
      val wantedSlices = rule.slices.map { it.sliceName }
      val lacking = chosen.filter { p -> !p.slices.containsAll(wantedSlices) }
      if (lacking.isNotEmpty()) {
        val p = lacking.first()
        val has = if (p.slices.isEmpty()) "has no slices" else "has slices ${p.slices}"
        errors +=
          "$field.slices $wantedSlices: ${p.name} $has" +
            (if (lacking.size > 1) " (and ${lacking.size - 1} more like it)" else "") +
            "; name a fused projection that has them, e.g. " +
            (projections
              .firstOrNull { it.slices.isNotEmpty() }
              ?.let { "${it.name.substringAfterLast('.')}${it.slices}" }
              ?: "none in this model: drop the slices")
      }
    }
    return chosen
  }

  private fun wanted(select: TargetSelector): String =
    when (select) {
      is TargetSelector.Suffix -> select.name
      is TargetSelector.Pattern -> select.regex
      TargetSelector.AllLinear -> ""
    }

  /**
   * "Projection names end in: a.b, c.d (full names look like x.a.b); closest to "w": ..." — the
   * names that exist, for messages about a target that matched nothing.
   */
  fun describeNames(projections: List<ProjectionInfo>, wanted: String): String {
    val suffixes = projections.map { lastParts(it.name, 2) }.distinct()
    val depth = maxOf(1, wanted.count { it == '.' } + 1)
    val candidates = projections.map { lastParts(it.name, depth) }.distinct()
    val closest = candidates.sortedBy { editDistance(it, wanted) }.take(3).joinToString(", ")
    return "Projection names end in: ${suffixes.joinToString(", ")} " +
      "(full names look like ${projections.first().name}); closest to \"$wanted\": $closest"
  }

  private fun lastParts(name: String, n: Int): String =
    name.split('.').takeLast(n).joinToString(".")

  /** Levenshtein distance. */
  fun editDistance(a: String, b: String): Int {
    var prev = IntArray(b.length + 1) { it }
    var cur = IntArray(b.length + 1)
    for (i in 1..a.length) {
      cur[0] = i
      for (j in 1..b.length) {
        val cost = if (a[i - 1] == b[j - 1]) 0 else 1
        cur[j] = minOf(cur[j - 1] + 1, prev[j] + 1, prev[j - 1] + cost)
      }
      val t = prev
      prev = cur
      cur = t
    }
    return prev[b.length]
  }
}

private val REGEX_METACHARACTERS = "\\^$*+?()[]{}|".toSet()
private val SLICED = Regex("""([^\[\]]+)\[([^\[\]]*)]""")

/**
 * A target as the command line writes it: `all-linear`; `c_attn[q,v]` (a suffix with slices); a
 * string with regex metacharacters (`\ ^ $ * + ? ( ) [ ] { } |`), such as `mlp\.c_.*`, is a regex
 * for the whole module path; anything else, dots included (`mlp.c_proj`), is a name suffix.
 *
 * @throws PlanValidationException naming the pattern and what is wrong with it
 */
fun parseTargetPattern(s: String): TargetRule {
  val text = s.trim()
  val errors = mutableListOf<String>()
  val sliced = SLICED.matchEntire(text)
  val rule =
    when {
      text.isEmpty() -> null
      text == "all-linear" -> TargetRule.allLinear()
      sliced != null && sliced.groupValues[1].none { it in REGEX_METACHARACTERS } -> {
        val names = sliced.groupValues[2].split(',').map { it.trim() }.filter { it.isNotEmpty() }
        if (names.isEmpty()) errors += "no slices inside [ ]; write e.g. c_attn[q,v]"
        val slices =
          names.mapNotNull { name ->
            Slice.of(name).also {
              if (it == null) {
                errors +=
                  "unknown slice \"$name\"; slices are " +
                    Slice.values().joinToString(", ") { s -> s.sliceName }
              }
            }
          }
        TargetRule(TargetSelector.Suffix(sliced.groupValues[1].trim()), slices.toSet())
      }
      text.any { it in REGEX_METACHARACTERS } -> TargetRule.regex(text)
      else -> TargetRule.suffix(text)
    }
  if (rule == null) {
    throw PlanValidationException(
      listOf("target pattern is empty; write e.g. c_attn, c_attn[q,v], mlp\\.c_.* or all-linear")
    )
  }
  val ruleErrors = mutableListOf<String>()
  PlanRules.checkTarget(ruleErrors, "", rule)
  errors += ruleErrors.map { it.removePrefix(".") }
  if (errors.isNotEmpty()) {
    throw PlanValidationException(
      errors.map { "target pattern \"$s\": $it" },
      "invalid target pattern",
    )
  }
  return rule
}
