package dev.lora4j.dsl

import java.util.regex.PatternSyntaxException

/**
 * The rules a plan must follow before any model is loaded: pure and fast. Each message names the
 * field (as a JSON path below the plan), the value, the rule and, where it is not obvious, the fix.
 */
internal object PlanRules {
  /**
   * The largest rank accepted before the model is known; the engine also caps it at min(in, out).
   */
  const val MAX_RANK: Int = 4096

  fun check(plan: LoraPlan): List<String> {
    val errors = mutableListOf<String>()
    if (plan.base.isBlank()) {
      errors += "base must name the base model's checkpoint directory, was \"${plan.base}\""
    }
    checkAdapter(errors, "defaults", plan.defaults.rank, plan.defaults.alpha, plan.defaults.dropout)
    checkTargets(errors, plan.targets)
    checkTraining(errors, plan.training, plan.data)
    plan.data?.let { checkData(errors, it) }
    checkQuantization(errors, plan.quantization)
    return errors
  }

  /** The problems of one rule on its own, named `[field]...`. */
  fun checkTarget(errors: MutableList<String>, field: String, rule: TargetRule) {
    when (val select = rule.select) {
      is TargetSelector.Suffix -> {
        val name = select.name
        when {
          name.isEmpty() ->
            errors +=
              "$field.suffix must name a module, was empty; write e.g. \"c_attn\" or \"mlp.c_proj\""
          name.any { it.isWhitespace() } ->
            errors += "$field.suffix \"$name\" must not contain whitespace"
          name.startsWith(".") || name.endsWith(".") ->
            errors +=
              "$field.suffix \"$name\" must not start or end with '.'; write \"${name.trim('.')}\""
        }
      }
      is TargetSelector.Pattern -> {
        if (select.regex.isEmpty()) {
          errors += "$field.regex must not be empty; write a regex for the whole module path"
        } else {
          regexProblem(select.regex)?.let {
            errors += "$field.regex \"${select.regex}\" is not a valid regex: $it"
          }
        }
      }
      TargetSelector.AllLinear -> {}
    }
    if (rule.slices.isNotEmpty() && rule.select !is TargetSelector.Suffix) {
      errors +=
        "$field.slices ${rule.slices.joinToString(", ", "[", "]")} need a suffix target that names " +
          "one fused module, e.g. c_attn[q,v]; this target is ${rule.select}"
    }
    rule.rank?.let { checkRank(errors, "$field.rank", it) }
    rule.alpha?.let { checkAlpha(errors, "$field.alpha", it) }
    rule.dropout?.let { checkDropout(errors, "$field.dropout", it) }
    rule.layers
      .filter { it < 0 }
      .sorted()
      .forEach { errors += "$field.layers contains $it; layer indices start at 0" }
    rule.exclude.forEachIndexed { i, name ->
      if (name.isBlank()) errors += "$field.exclude[$i] must name a module, was \"$name\""
    }
  }

  private fun checkTargets(errors: MutableList<String>, targets: List<TargetRule>) {
    if (targets.isEmpty()) {
      errors +=
        "targets is empty: add at least one target, e.g. target(\"q_proj\"), " +
          "target(Regex(\"...\")) or allLinear()"
      return
    }
    targets.forEachIndexed { i, rule -> checkTarget(errors, "targets[$i]", rule) }
    targets.forEachIndexed { i, rule ->
      val first = targets.indexOf(rule)
      if (first < i) {
        errors += "targets[$i] repeats targets[$first] (${rule.describe()}); remove one of them"
      }
    }
  }

  private fun checkAdapter(
    errors: MutableList<String>,
    field: String,
    rank: Int,
    alpha: Double,
    dropout: Double,
  ) {
    checkRank(errors, "$field.rank", rank)
    checkAlpha(errors, "$field.alpha", alpha)
    checkDropout(errors, "$field.dropout", dropout)
  }

  private fun checkRank(errors: MutableList<String>, field: String, rank: Int) {
    if (rank < 1 || rank > MAX_RANK) {
      errors +=
        "$field must be between 1 and $MAX_RANK, was $rank " +
          "(the engine also caps it at min(in, out) of each module)"
    }
  }

  private fun checkAlpha(errors: MutableList<String>, field: String, alpha: Double) {
    if (!(alpha > 0) || alpha.isInfinite()) {
      errors += "$field must be a finite number > 0, was $alpha (the scale is alpha / rank)"
    }
  }

  private fun checkDropout(errors: MutableList<String>, field: String, dropout: Double) {
    if (!(dropout >= 0 && dropout < 1)) {
      errors += "$field must be in [0, 1), was $dropout; 0 switches dropout off"
    }
  }

  private fun checkTraining(errors: MutableList<String>, t: TrainingPlan, data: DataPlan?) {
    val opt = "training.optimizer"
    positive(errors, "$opt.lr", t.optimizer.lr)
    when (val o = t.optimizer) {
      is Optimizer.AdamW -> {
        unitInterval(errors, "$opt.beta1", o.beta1)
        unitInterval(errors, "$opt.beta2", o.beta2)
        positive(errors, "$opt.eps", o.eps)
        nonNegative(errors, "$opt.weightDecay", o.weightDecay)
      }
      is Optimizer.Sgd -> {
        unitInterval(errors, "$opt.momentum", o.momentum)
        nonNegative(errors, "$opt.weightDecay", o.weightDecay)
      }
    }
    t.loraPlusRatio?.let { positive(errors, "training.loraPlusRatio", it) }

    val schedule = t.schedule
    when (schedule) {
      is Schedule.Linear -> minLrRatio(errors, schedule.minLrRatio)
      is Schedule.Cosine -> minLrRatio(errors, schedule.minLrRatio)
      is Schedule.Constant -> {}
    }
    when (val w = schedule.warmup) {
      is Warmup.Steps -> {
        if (w.steps < 0) {
          errors += "training.schedule.warmup.steps must be >= 0, was ${w.steps}"
        } else if (t.maxSteps != null && t.maxSteps >= 1 && w.steps >= t.maxSteps) {
          errors +=
            "training.schedule.warmup.steps must be less than training.maxSteps (${t.maxSteps}), " +
              "was ${w.steps}; shorten the warm-up or train longer"
        }
      }
      is Warmup.Ratio ->
        if (!(w.ratio >= 0 && w.ratio < 1)) {
          errors +=
            "training.schedule.warmup.ratio must be in [0, 1), was ${w.ratio} " +
              "(the fraction of all steps spent warming up)"
        }
    }

    atLeastOne(errors, "training.batchSize", t.batchSize)
    atLeastOne(errors, "training.gradAccumulation", t.gradAccumulation)
    when {
      t.maxSteps != null && t.epochs != null ->
        errors +=
          "training: set exactly one of maxSteps and epochs, both were set " +
            "(maxSteps ${t.maxSteps}, epochs ${t.epochs}); remove one"
      t.maxSteps == null && t.epochs == null ->
        errors += "training: set exactly one of maxSteps and epochs, neither was set"
      else -> {
        t.maxSteps?.let { atLeastOne(errors, "training.maxSteps", it) }
        t.epochs?.let { atLeastOne(errors, "training.epochs", it) }
      }
    }
    t.maxGradNorm?.let {
      if (!(it > 0) || it.isInfinite()) {
        errors +=
          "training.maxGradNorm must be a finite number > 0, was $it; leave it unset to not clip"
      }
    }
    t.evalEvery?.let { atLeastOne(errors, "training.evalEvery", it) }
    t.checkpointEvery?.let { atLeastOne(errors, "training.checkpointEvery", it) }
    t.keepCheckpoints?.let { atLeastOne(errors, "training.keepCheckpoints", it) }
    t.earlyStopping?.let { stop ->
      atLeastOne(errors, "training.earlyStopping.patience", stop.patience)
      nonNegative(errors, "training.earlyStopping.minDelta", stop.minDelta)
      if (t.evalEvery == null) {
        errors +=
          "training.earlyStopping needs training.evalEvery: it counts evaluations without " +
            "improvement; set evalEvery"
      }
      if (data != null && !data.hasValidation) {
        errors +=
          "training.earlyStopping needs validation data; set data.validationSplit > 0 " +
            "or data.validation"
      }
    }
  }

  private fun checkData(errors: MutableList<String>, d: DataPlan) {
    if (d.train.isBlank()) {
      errors += "data.train must name the training file, was \"${d.train}\"; call train(\"path\")"
    }
    if (d.validation != null && d.validation.isBlank()) {
      errors += "data.validation must name a file, was \"${d.validation}\""
    }
    if (d.seqLen < 2) {
      errors +=
        "data.seqLen must be at least 2, was ${d.seqLen} (a sequence predicts each next token)"
    }
    if (!(d.validationSplit >= 0 && d.validationSplit < 1)) {
      errors += "data.validationSplit must be in [0, 1), was ${d.validationSplit}"
    } else if (d.validation != null && d.validationSplit > 0) {
      errors +=
        "data: set either validation (a file) or validationSplit, not both " +
          "(validationSplit ${d.validationSplit})"
    }
    when (val f = d.format) {
      is DataFormat.JsonlText -> fieldName(errors, "data.format.field", f.field)
      is DataFormat.PromptCompletion -> {
        fieldName(errors, "data.format.prompt", f.prompt)
        fieldName(errors, "data.format.completion", f.completion)
      }
      is DataFormat.Tokenized -> fieldName(errors, "data.format.field", f.field)
      DataFormat.Text -> {}
    }
    if (d.maskPrompt && d.format !is DataFormat.PromptCompletion) {
      errors +=
        "data.maskPrompt needs format PROMPT_COMPLETION (only it has a prompt to mask), " +
          "format was ${d.format}"
    }
  }

  private fun checkQuantization(errors: MutableList<String>, q: QuantizationPlan) {
    if (q.doubleQuant && q.base != Quantization.NF4) {
      errors +=
        "quantization.doubleQuant applies to NF4 only (it quantizes NF4's block scales), " +
          "base was ${q.base}"
    }
  }

  private fun minLrRatio(errors: MutableList<String>, ratio: Double) {
    if (!(ratio >= 0 && ratio <= 1)) {
      errors += "training.schedule.minLrRatio must be in [0, 1], was $ratio"
    }
  }

  private fun positive(errors: MutableList<String>, field: String, value: Double) {
    if (!(value > 0) || value.isInfinite()) errors += "$field must be > 0, was $value"
  }

  private fun nonNegative(errors: MutableList<String>, field: String, value: Double) {
    if (!(value >= 0) || value.isInfinite()) errors += "$field must be >= 0, was $value"
  }

  private fun unitInterval(errors: MutableList<String>, field: String, value: Double) {
    if (!(value >= 0 && value < 1)) errors += "$field must be in [0, 1), was $value"
  }

  private fun atLeastOne(errors: MutableList<String>, field: String, value: Int) {
    if (value < 1) errors += "$field must be at least 1, was $value"
  }

  private fun fieldName(errors: MutableList<String>, field: String, value: String) {
    if (value.isBlank()) errors += "$field must name a JSON field, was \"$value\""
  }

  /** Why [regex] does not compile, or null if it does. */
  fun regexProblem(regex: String): String? =
    try {
      Regex(regex)
      null
    } catch (e: PatternSyntaxException) {
      e.description + if (e.index >= 0) " near index ${e.index}" else ""
    }
}
