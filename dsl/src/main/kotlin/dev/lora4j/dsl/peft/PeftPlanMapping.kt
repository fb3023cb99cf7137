package dev.lora4j.dsl.peft

import dev.lora4j.dsl.AdapterDefaults
import dev.lora4j.dsl.LoraInit
import dev.lora4j.dsl.LoraPlan
import dev.lora4j.dsl.PlanValidationException
import dev.lora4j.dsl.ProjectionInfo
import dev.lora4j.dsl.TargetRule
import dev.lora4j.dsl.TargetSelector
import kotlin.math.sqrt
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.intOrNull

/**
 * Maps the adapter part of a [LoraPlan] to PEFT's `adapter_config.json` and back. Both directions
 * keep PEFT's meaning exactly: the modules PEFT would adapt and the rank and alpha it would give
 * each are the ones the plan's targets resolve to (PEFT has no per-module dropout or init, and no
 * slices; see [LoraPlan.toPeftConfig]). Generated regexes use only syntax that Python's `re` and
 * `java.util.regex` read alike: `(?:)`, `(?=)`, `(?!)`, `.*`, escapes, `^`, `$`.
 */
internal object PeftPlanMapping {
  /** The layer-name patterns PEFT (and [PeftLoraConfig]) look for before a layer index. */
  private val LAYER_NAMES = listOf("layers", "h", "blocks", "layer")

  fun toPeft(plan: LoraPlan): PeftLoraConfig {
    val targets = plan.targets
    val d = plan.defaults
    val sharedFilters =
      targets.map { it.layers }.distinct().size == 1 &&
        targets.map { it.exclude.toSet() }.distinct().size == 1
    val targetModules: TargetModules
    val key: (TargetRule) -> String
    var layers: Set<Int> = emptySet()
    var exclude: List<String> = emptyList()
    if (sharedFilters) {
      layers = targets.first().layers
      exclude = targets.first().exclude.distinct()
      val selectors = targets.map { it.select }.distinct()
      targetModules =
        when {
          TargetSelector.AllLinear in selectors -> TargetModules.AllLinear
          selectors.all { it is TargetSelector.Suffix } ->
            TargetModules.Names(selectors.map { (it as TargetSelector.Suffix).name })
          selectors.size == 1 ->
            TargetModules.Pattern((selectors[0] as TargetSelector.Pattern).regex)
          else -> TargetModules.Pattern(selectors.joinToString("|") { selectorRegex(it) })
        }
      key = { rule -> selectorKey(rule.select) }
    } else {
      if (targets.any { it.select == TargetSelector.AllLinear }) {
        throw PlanValidationException(
          listOf(
            "targets: PEFT cannot combine all-linear with other targets whose layers or " +
              "exclusions differ; give every target the same layers(...) and exclude(...), or " +
              "write the resolved adapters with toPeftConfig(projections)"
          ),
          "this plan has no PEFT form",
        )
      }
      targetModules =
        TargetModules.Pattern(targets.map { ruleRegex(it) }.distinct().joinToString("|"))
      key = { rule -> "^" + ruleRegex(rule) }
    }
    val reversed = targets.asReversed()
    return PeftLoraConfig(
      baseModelNameOrPath = plan.base,
      r = d.rank,
      loraAlpha = d.alpha,
      loraDropout = d.dropout,
      targetModules = targetModules,
      excludeModules = if (exclude.isEmpty()) null else TargetModules.Names(exclude),
      useRslora = d.rsLora,
      initLoraWeights = initJson(d.init),
      rankPattern =
        firstMatchMap(reversed.mapNotNull { r -> r.rank?.let { key(r) to it } }, d.rank),
      alphaPattern =
        firstMatchMap(reversed.mapNotNull { r -> r.alpha?.let { key(r) to it } }, d.alpha),
      layersToTransform =
        if (layers.isEmpty()) null else JsonArray(layers.sorted().map { JsonPrimitive(it) }),
    )
  }

  fun toPeftResolved(plan: LoraPlan, projections: List<ProjectionInfo>): PeftLoraConfig {
    val d = plan.defaults
    val resolved = plan.resolve(projections)
    val ranks = LinkedHashMap<String, Int>()
    val alphas = LinkedHashMap<String, Double>()
    for (t in resolved) {
      val n = maxOf(1, t.slices.size)
      val rank = t.rank * n
      val alpha = t.alpha * if (d.rsLora) sqrt(n.toDouble()) else n.toDouble()
      if (rank != d.rank) ranks[pythonEscape(t.module)] = rank
      if (alpha != d.alpha) alphas[pythonEscape(t.module)] = alpha
    }
    return PeftLoraConfig(
      baseModelNameOrPath = plan.base,
      r = d.rank,
      loraAlpha = d.alpha,
      loraDropout = d.dropout,
      targetModules = TargetModules.Names(resolved.map { it.module }),
      useRslora = d.rsLora,
      initLoraWeights = initJson(d.init),
      rankPattern = ranks,
      alphaPattern = alphas,
    )
  }

  fun fromPeft(config: PeftLoraConfig, base: String): LoraPlan {
    val errors = mutableListOf<String>()
    if (config.peftType != "LORA") {
      errors += "peft_type is \"${config.peftType}\"; lora4j reads LoRA configs only (\"LORA\")"
    }
    if (config.useDora) errors += "use_dora is true; lora4j does not train DoRA adapters"
    if (config.bias != "none") {
      errors += "bias is \"${config.bias}\"; lora4j trains the LoRA factors only (bias \"none\")"
    }
    if (!config.modulesToSave.isNullOrEmpty()) {
      errors +=
        "modules_to_save ${config.modulesToSave} asks for fully trained modules; lora4j trains " +
          "adapters only"
    }
    val init =
      when (config.initName()) {
        "default" -> LoraInit.KAIMING_UNIFORM
        "gaussian" -> LoraInit.GAUSSIAN
        else -> {
          errors +=
            "init_lora_weights ${config.initLoraWeights} has no lora4j equivalent; " +
              "use true (kaiming-uniform) or \"gaussian\""
          LoraInit.KAIMING_UNIFORM
        }
      }
    val layers = layerSet(config.layersToTransform, errors)
    layerPatternProblem(config.layersPattern)?.let { errors += it }
    val exclude =
      when (val e = config.excludeModules) {
        null -> emptyList()
        is TargetModules.Names -> e.names
        else -> {
          errors += "exclude_modules $e: only a list of module names has a lora4j form"
          emptyList()
        }
      }
    val targets = config.targetModules
    if (targets == null) errors += "target_modules is missing; name the adapted modules"
    if (errors.isNotEmpty() || targets == null) {
      throw PlanValidationException(errors, "this PEFT config has no lora4j plan")
    }

    fun rule(select: TargetSelector) = TargetRule(select, layers = layers, exclude = exclude)
    val rules = mutableListOf<TargetRule>()
    when (targets) {
      is TargetModules.Names -> targets.names.forEach { rules += rule(TargetSelector.Suffix(it)) }
      is TargetModules.Pattern -> rules += rule(TargetSelector.Pattern(targets.regex))
      TargetModules.AllLinear -> rules += rule(TargetSelector.AllLinear)
    }
    // PEFT takes a module's rank from the first rank_pattern key that matches it and its alpha
    // from the first alpha_pattern key, independently; a plan takes each from the last rule that
    // sets it, so the keys become rules in reverse order, restricted to the targeted modules.
    fun overrideRule(key: String): TargetRule {
      val plain = key.matches(Regex("[A-Za-z0-9_]+"))
      val inTargets =
        targets == TargetModules.AllLinear ||
          (targets is TargetModules.Names && key in targets.names)
      return if (plain && inTargets) rule(TargetSelector.Suffix(key))
      else rule(TargetSelector.Pattern(targetLookahead(targets) + "(?:.*\\.)?(?:$key)"))
    }
    val rankKeys = config.rankPattern.keys.toList()
    val alphaKeys = config.alphaPattern.keys.toList()
    if (rankKeys == alphaKeys) {
      for (k in rankKeys.asReversed()) {
        rules += overrideRule(k).copy(rank = config.rankPattern[k], alpha = config.alphaPattern[k])
      }
    } else {
      for (k in rankKeys.asReversed()) rules += overrideRule(k).copy(rank = config.rankPattern[k])
      for (k in alphaKeys.asReversed()) rules +=
        overrideRule(k).copy(alpha = config.alphaPattern[k])
    }
    return LoraPlan(
      base = base,
      defaults =
        AdapterDefaults(
          rank = config.r,
          alpha = config.loraAlpha,
          dropout = config.loraDropout,
          init = init,
          rsLora = config.useRslora,
        ),
      targets = rules.distinct(),
    )
  }

  /** A regex that Python's `re` and Java read as the literal [text]. */
  fun pythonEscape(text: String): String = buildString {
    for (c in text) {
      if (c in "\\.^$*+?()[]{}|-") append('\\')
      append(c)
    }
  }

  /** A full-match regex for the selector (not for all-linear, which PEFT only knows by name). */
  private fun selectorRegex(select: TargetSelector): String =
    when (select) {
      is TargetSelector.Suffix -> "(?:.*\\.)?" + pythonEscape(select.name)
      is TargetSelector.Pattern -> "(?:${select.regex})"
      TargetSelector.AllLinear -> error("all-linear has no regex form")
    }

  /** A pattern key (PEFT matches `(.*\.)?(key)$`) that picks exactly the selector's modules. */
  private fun selectorKey(select: TargetSelector): String =
    when (select) {
      is TargetSelector.Suffix -> pythonEscape(select.name)
      // `^` pins the key to the start, so the optional prefix group cannot shorten the match
      is TargetSelector.Pattern -> "^(?:${select.regex})"
      TargetSelector.AllLinear -> ".*"
    }

  /** A full-match regex for a rule's selector, layers and exclusions together. */
  private fun ruleRegex(rule: TargetRule): String {
    val sb = StringBuilder("(?:")
    if (rule.layers.isNotEmpty()) {
      sb.append("(?=(?:.*\\.)?(?:${LAYER_NAMES.joinToString("|")})\\.(?:")
      sb.append(rule.layers.sorted().joinToString("|"))
      sb.append(")\\.)")
    }
    if (rule.exclude.isNotEmpty()) {
      sb.append("(?!(?:.*\\.)?(?:")
      sb.append(rule.exclude.joinToString("|") { pythonEscape(it) })
      sb.append(")$)")
    }
    sb.append(selectorRegex(rule.select)).append(")")
    return sb.toString()
  }

  private fun targetLookahead(targets: TargetModules): String =
    when (targets) {
      is TargetModules.Names ->
        "(?=(?:.*\\.)?(?:" + targets.names.joinToString("|") { pythonEscape(it) } + ")$)"
      is TargetModules.Pattern -> "(?=(?:${targets.regex})$)"
      TargetModules.AllLinear -> ""
    }

  /**
   * The entries in first-match order with later duplicates of a key dropped, and trailing entries
   * that only repeat [fallback] removed (a module no key matches gets the fallback anyway).
   */
  private fun <T> firstMatchMap(entries: List<Pair<String, T>>, fallback: T): Map<String, T> {
    val map = LinkedHashMap<String, T>()
    for ((k, v) in entries) if (k !in map) map[k] = v
    val keys = map.keys.toList()
    for (k in keys.asReversed()) {
      if (map[k] == fallback) map.remove(k) else break
    }
    return map
  }

  private fun initJson(init: LoraInit): JsonElement =
    when (init) {
      LoraInit.KAIMING_UNIFORM -> JsonPrimitive(true)
      LoraInit.GAUSSIAN -> JsonPrimitive("gaussian")
    }

  private fun layerSet(element: JsonElement?, errors: MutableList<String>): Set<Int> {
    fun index(e: JsonElement): Int? =
      (e as? JsonPrimitive)
        ?.takeIf { !it.isString }
        ?.intOrNull
        .also { if (it == null) errors += "layers_to_transform must hold layer indices, had $e" }
    return when (element) {
      null -> emptySet()
      is JsonArray -> element.mapNotNull { index(it) }.toSet()
      is JsonPrimitive ->
        if (element.content == "null") emptySet() else setOfNotNull(index(element))
      else -> {
        errors += "layers_to_transform must be an index or a list of them, was $element"
        emptySet()
      }
    }
  }

  private fun layerPatternProblem(element: JsonElement?): String? {
    val names =
      when (element) {
        null -> return null
        is JsonArray -> element.map { (it as? JsonPrimitive)?.content }
        is JsonPrimitive -> if (element.isString) listOf(element.content) else return null
        else -> listOf(null)
      }
    val unknown = names.filter { it == null || it !in LAYER_NAMES }
    return if (unknown.isEmpty()) null
    else
      "layers_pattern $element: lora4j finds layer indices after " +
        LAYER_NAMES.joinToString(", ") { "\"$it.\"" } +
        "; leave layers_pattern unset"
  }
}
