package dev.lora4j.dsl

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldStartWith

/** A valid plan to break one field at a time. */
private val valid: LoraPlan = examplePlan()

private fun LoraPlan.training(f: TrainingPlan.() -> TrainingPlan) = copy(training = training.f())

private fun LoraPlan.data(f: DataPlan.() -> DataPlan) = copy(data = data!!.f())

private fun LoraPlan.target(rule: TargetRule) = copy(targets = listOf(rule))

/** (sentence, broken plan, the whole message the rule gives) */
private val cases: List<Triple<String, LoraPlan, String>> =
  listOf(
    Triple(
      "a blank base is rejected",
      valid.copy(base = " "),
      "base must name the base model's checkpoint directory, was \" \"",
    ),
    Triple(
      "rank 0 is below the plan-level range 1..4096",
      valid.copy(defaults = valid.defaults.copy(rank = 0)),
      "defaults.rank must be between 1 and 4096, was 0 " +
        "(the engine also caps it at min(in, out) of each module)",
    ),
    Triple(
      "rank 4097 is above the plan-level range",
      valid.copy(defaults = valid.defaults.copy(rank = 4097)),
      "defaults.rank must be between 1 and 4096, was 4097 " +
        "(the engine also caps it at min(in, out) of each module)",
    ),
    Triple(
      "alpha must be positive",
      valid.copy(defaults = valid.defaults.copy(alpha = 0.0)),
      "defaults.alpha must be a finite number > 0, was 0.0 (the scale is alpha / rank)",
    ),
    Triple(
      "alpha must be finite",
      valid.copy(defaults = valid.defaults.copy(alpha = Double.POSITIVE_INFINITY)),
      "defaults.alpha must be a finite number > 0, was Infinity (the scale is alpha / rank)",
    ),
    Triple(
      "dropout 1 is outside [0, 1)",
      valid.copy(defaults = valid.defaults.copy(dropout = 1.0)),
      "defaults.dropout must be in [0, 1), was 1.0; 0 switches dropout off",
    ),
    Triple(
      "negative dropout is rejected",
      valid.copy(defaults = valid.defaults.copy(dropout = -0.1)),
      "defaults.dropout must be in [0, 1), was -0.1; 0 switches dropout off",
    ),
    Triple(
      "a plan without targets is rejected with examples of targets",
      valid.copy(targets = emptyList()),
      "targets is empty: add at least one target, e.g. target(\"q_proj\"), " +
        "target(Regex(\"...\")) or allLinear()",
    ),
    Triple(
      "an empty suffix is rejected",
      valid.target(TargetRule.suffix("")),
      "targets[0].suffix must name a module, was empty; write e.g. \"c_attn\" or \"mlp.c_proj\"",
    ),
    Triple(
      "a suffix with a leading dot is rejected with the fix",
      valid.target(TargetRule.suffix(".c_attn")),
      "targets[0].suffix \".c_attn\" must not start or end with '.'; write \"c_attn\"",
    ),
    Triple(
      "a suffix with whitespace is rejected",
      valid.target(TargetRule.suffix("c attn")),
      "targets[0].suffix \"c attn\" must not contain whitespace",
    ),
    Triple(
      "an invalid regex says which and why",
      valid.target(TargetRule.regex("model\\.layers\\.(\\d+")),
      "targets[0].regex \"model\\.layers\\.(\\d+\" is not a valid regex: Unclosed group near index 19",
    ),
    Triple(
      "an empty regex is rejected",
      valid.target(TargetRule.regex("")),
      "targets[0].regex must not be empty; write a regex for the whole module path",
    ),
    Triple(
      "slices on a regex target are rejected",
      valid.target(TargetRule.regex(".*c_attn").withSlices(Slice.Q)),
      "targets[0].slices [q] need a suffix target that names one fused module, e.g. c_attn[q,v]; " +
        "this target is regex \".*c_attn\"",
    ),
    Triple(
      "slices on an all-linear target are rejected",
      valid.target(TargetRule.allLinear().withSlices(Slice.Q, Slice.V)),
      "targets[0].slices [q, v] need a suffix target that names one fused module, " +
        "e.g. c_attn[q,v]; this target is all-linear",
    ),
    Triple(
      "a per-target rank is checked like the default",
      valid.target(TargetRule.suffix("q_proj").withRank(-1)),
      "targets[0].rank must be between 1 and 4096, was -1 " +
        "(the engine also caps it at min(in, out) of each module)",
    ),
    Triple(
      "a per-target alpha is checked like the default",
      valid.target(TargetRule.suffix("q_proj").withAlpha(-2.0)),
      "targets[0].alpha must be a finite number > 0, was -2.0 (the scale is alpha / rank)",
    ),
    Triple(
      "a per-target dropout is checked like the default",
      valid.target(TargetRule.suffix("q_proj").withDropout(1.5)),
      "targets[0].dropout must be in [0, 1), was 1.5; 0 switches dropout off",
    ),
    Triple(
      "negative layer indices are rejected",
      valid.target(TargetRule.allLinear().withLayers(-1, 0)),
      "targets[0].layers contains -1; layer indices start at 0",
    ),
    Triple(
      "a blank exclusion is rejected",
      valid.target(TargetRule.allLinear().withExclude("")),
      "targets[0].exclude[0] must name a module, was \"\"",
    ),
    Triple(
      "two identical targets are reported as a duplicate",
      valid.copy(targets = listOf(TargetRule.suffix("q_proj"), TargetRule.suffix("q_proj"))),
      "targets[1] repeats targets[0] (suffix \"q_proj\"); remove one of them",
    ),
    Triple(
      "a negative learning rate is rejected",
      valid.training { copy(optimizer = Optimizer.AdamW(lr = -0.001)) },
      "training.optimizer.lr must be > 0, was -0.001",
    ),
    Triple(
      "AdamW's beta2 must be below 1",
      valid.training { copy(optimizer = Optimizer.AdamW(beta2 = 1.0)) },
      "training.optimizer.beta2 must be in [0, 1), was 1.0",
    ),
    Triple(
      "AdamW's beta1 must not be negative",
      valid.training { copy(optimizer = Optimizer.AdamW(beta1 = -0.5)) },
      "training.optimizer.beta1 must be in [0, 1), was -0.5",
    ),
    Triple(
      "AdamW's eps must be positive",
      valid.training { copy(optimizer = Optimizer.AdamW(eps = 0.0)) },
      "training.optimizer.eps must be > 0, was 0.0",
    ),
    Triple(
      "weight decay must not be negative",
      valid.training { copy(optimizer = Optimizer.AdamW(weightDecay = -0.01)) },
      "training.optimizer.weightDecay must be >= 0, was -0.01",
    ),
    Triple(
      "SGD momentum must be in [0, 1)",
      valid.training { copy(optimizer = Optimizer.Sgd(0.1, momentum = 1.0)) },
      "training.optimizer.momentum must be in [0, 1), was 1.0",
    ),
    Triple(
      "the LoRA+ ratio must be positive",
      valid.training { copy(loraPlusRatio = 0.0) },
      "training.loraPlusRatio must be > 0, was 0.0",
    ),
    Triple(
      "the minimum lr ratio must be in [0, 1]",
      valid.training { copy(schedule = Schedule.Cosine(Warmup.NONE, 1.5)) },
      "training.schedule.minLrRatio must be in [0, 1], was 1.5",
    ),
    Triple(
      "a warm-up ratio of 1 is outside [0, 1)",
      valid.training { copy(schedule = Schedule.Linear(Warmup.Ratio(1.0))) },
      "training.schedule.warmup.ratio must be in [0, 1), was 1.0 " +
        "(the fraction of all steps spent warming up)",
    ),
    Triple(
      "negative warm-up steps are rejected",
      valid.training { copy(schedule = Schedule.Constant(Warmup.Steps(-1))) },
      "training.schedule.warmup.steps must be >= 0, was -1",
    ),
    Triple(
      "warm-up steps must be fewer than maxSteps",
      valid.training { copy(schedule = Schedule.Cosine(Warmup.Steps(1000))) },
      "training.schedule.warmup.steps must be less than training.maxSteps (1000), was 1000; " +
        "shorten the warm-up or train longer",
    ),
    Triple(
      "batch size 0 is rejected",
      valid.training { copy(batchSize = 0) },
      "training.batchSize must be at least 1, was 0",
    ),
    Triple(
      "gradient accumulation 0 is rejected",
      valid.training { copy(gradAccumulation = 0) },
      "training.gradAccumulation must be at least 1, was 0",
    ),
    Triple(
      "maxSteps and epochs together are rejected",
      valid.training { copy(maxSteps = 1000, epochs = 3) },
      "training: set exactly one of maxSteps and epochs, both were set " +
        "(maxSteps 1000, epochs 3); remove one",
    ),
    Triple(
      "neither maxSteps nor epochs is rejected",
      valid.training { copy(maxSteps = null, epochs = null) },
      "training: set exactly one of maxSteps and epochs, neither was set",
    ),
    Triple(
      "maxSteps 0 is rejected",
      valid.training { copy(maxSteps = 0, schedule = Schedule.Constant()) },
      "training.maxSteps must be at least 1, was 0",
    ),
    Triple(
      "epochs 0 is rejected",
      valid.training { copy(maxSteps = null, epochs = 0) },
      "training.epochs must be at least 1, was 0",
    ),
    Triple(
      "a max gradient norm of 0 is rejected",
      valid.training { copy(maxGradNorm = 0.0) },
      "training.maxGradNorm must be a finite number > 0, was 0.0; leave it unset to not clip",
    ),
    Triple(
      "evalEvery 0 is rejected",
      valid.training { copy(evalEvery = 0) },
      "training.evalEvery must be at least 1, was 0",
    ),
    Triple(
      "checkpointEvery 0 is rejected",
      valid.training { copy(checkpointEvery = 0) },
      "training.checkpointEvery must be at least 1, was 0",
    ),
    Triple(
      "keepCheckpoints 0 is rejected",
      valid.training { copy(keepCheckpoints = 0) },
      "training.keepCheckpoints must be at least 1, was 0",
    ),
    Triple(
      "early stopping patience must be at least 1",
      valid.training { copy(earlyStopping = EarlyStopping(0)) },
      "training.earlyStopping.patience must be at least 1, was 0",
    ),
    Triple(
      "early stopping minDelta must not be negative",
      valid.training { copy(earlyStopping = EarlyStopping(3, -1.0)) },
      "training.earlyStopping.minDelta must be >= 0, was -1.0",
    ),
    Triple(
      "early stopping needs evalEvery",
      valid.training { copy(evalEvery = null) },
      "training.earlyStopping needs training.evalEvery: it counts evaluations without " +
        "improvement; set evalEvery",
    ),
    Triple(
      "early stopping needs validation data",
      valid.data { copy(validationSplit = 0.0) },
      "training.earlyStopping needs validation data; set data.validationSplit > 0 " +
        "or data.validation",
    ),
    Triple(
      "a blank training file is rejected",
      valid.data { copy(train = "") },
      "data.train must name the training file, was \"\"; call train(\"path\")",
    ),
    Triple(
      "a blank validation file is rejected",
      valid.data { copy(validation = " ", validationSplit = 0.0) },
      "data.validation must name a file, was \" \"",
    ),
    Triple(
      "seqLen 1 is rejected",
      valid.data { copy(seqLen = 1) },
      "data.seqLen must be at least 2, was 1 (a sequence predicts each next token)",
    ),
    Triple(
      "a validation split of 1 is outside [0, 1)",
      valid.data { copy(validationSplit = 1.0) },
      "data.validationSplit must be in [0, 1), was 1.0",
    ),
    Triple(
      "a validation file and a validation split together are rejected",
      valid.data { copy(validation = "valid.txt") },
      "data: set either validation (a file) or validationSplit, not both (validationSplit 0.05)",
    ),
    Triple(
      "a JSON Lines text field must be named",
      valid.data { copy(format = DataFormat.jsonlText("")) },
      "data.format.field must name a JSON field, was \"\"",
    ),
    Triple(
      "prompt and completion fields must be named",
      valid.data { copy(format = DataFormat.promptCompletion("prompt", " ")) },
      "data.format.completion must name a JSON field, was \" \"",
    ),
    Triple(
      "maskPrompt needs prompt-completion data",
      valid.data { copy(maskPrompt = true) },
      "data.maskPrompt needs format PROMPT_COMPLETION (only it has a prompt to mask), " +
        "format was TEXT",
    ),
    Triple(
      "double quantization needs NF4",
      valid.copy(quantization = QuantizationPlan(Quantization.INT8, doubleQuant = true)),
      "quantization.doubleQuant applies to NF4 only (it quantizes NF4's block scales), " +
        "base was INT8",
    ),
  )

class ValidationTest :
  FunSpec({
    test("the example plan is valid") { valid.validationErrors() shouldBe emptyList() }

    for ((name, plan, message) in cases) {
      test(name) {
        plan.validationErrors() shouldContainExactly listOf(message)
        shouldThrow<PlanValidationException> { plan.validated() }.message shouldContain message
      }
    }

    test("build() collects every problem into one exception, one a line") {
      val e =
        shouldThrow<PlanValidationException> {
          lora("base") {
            defaults { rank = 0 }
            target("")
            training {
              optimizer = adamW(lr = -0.001)
              batchSize = 0
              maxSteps = 10
              epochs = 2
            }
            data { seqLen = 1 }
          }
        }
      e.problems shouldHaveSize 7
      e.message shouldStartWith "invalid LoRA plan (7 problems):\n"
      e.message!!.lines().drop(1) shouldContainExactly
        listOf(
          "  defaults.rank must be between 1 and 4096, was 0 " +
            "(the engine also caps it at min(in, out) of each module)",
          "  targets[0].suffix must name a module, was empty; write e.g. \"c_attn\" or " +
            "\"mlp.c_proj\"",
          "  training.optimizer.lr must be > 0, was -0.001",
          "  training.batchSize must be at least 1, was 0",
          "  training: set exactly one of maxSteps and epochs, both were set " +
            "(maxSteps 10, epochs 2); remove one",
          "  data.train must name the training file, was \"\"; call train(\"path\")",
          "  data.seqLen must be at least 2, was 1 (a sequence predicts each next token)",
        )
    }

    test("an empty layer range in the DSL is reported with the target's index") {
      shouldThrow<PlanValidationException> {
          lora("b") {
            target("q_proj")
            allLinear { layers(3..0) }
          }
        }
        .problems shouldContainExactly
        listOf("targets[1].layers(3..0) is an empty range; write first..last with first <= last")
    }

    test("an empty layer range in the Java builder fails at once") {
      shouldThrow<PlanValidationException> { TargetRule.allLinear().withLayerRange(3, 0) }
        .problems shouldContainExactly
        listOf("layers(3..0) is an empty range; write first..last with first <= last")
    }

    test("warm-up steps are not compared with maxSteps when training runs by epochs") {
      valid
        .training {
          copy(maxSteps = null, epochs = 1, schedule = Schedule.Cosine(Warmup.Steps(5000)))
        }
        .validationErrors() shouldBe emptyList()
    }
  })
