package dev.lora4j.dsl

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain

/** The plan of the example, written with the DSL; [LoraPlanJavaTest] builds it too. */
fun examplePlan(): LoraPlan =
  lora(base = "runs/base-model") {
    defaults {
      rank = 8
      alpha = 16.0
      dropout = 0.05
      init = LoraInit.KAIMING_UNIFORM
      rsLora = false
    }
    target("c_attn", slices = setOf(Slice.Q, Slice.V))
    target(Regex("model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj")) {
      rank = 16
      alpha = 32.0
    }
    allLinear {
      layers(0..3)
      exclude("mlp.c_proj")
    }
    training {
      optimizer = adamW(lr = 2e-4, betas = 0.9 to 0.999, eps = 1e-8, weightDecay = 0.01)
      loraPlusRatio = 16.0
      schedule = cosine(warmup = steps(100), minLrRatio = 0.1)
      batchSize = 8
      gradAccumulation = 4
      maxSteps = 1000
      maxGradNorm = 1.0
      precision = Precision.BF16
      seed = 42
      evalEvery = 100
      checkpointEvery = 500
      keepCheckpoints = 3
      earlyStopping(patience = 5, minDelta = 0.0)
    }
    data {
      train("samples/data/fortunes.txt.gz")
      format = DataFormat.TEXT
      seqLen = 128
      validationSplit = 0.05
    }
    quantization {
      base = Quantization.NF4
      doubleQuant = true
    }
  }

class DslTest :
  FunSpec({
    test("the issue's example builds the plan value field for field") {
      examplePlan() shouldBe
        LoraPlan(
          base = "runs/base-model",
          defaults = AdapterDefaults(8, 16.0, 0.05, LoraInit.KAIMING_UNIFORM, false),
          targets =
            listOf(
              TargetRule(TargetSelector.Suffix("c_attn"), slices = setOf(Slice.Q, Slice.V)),
              TargetRule(
                TargetSelector.Pattern("model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj"),
                rank = 16,
                alpha = 32.0,
              ),
              TargetRule(
                TargetSelector.AllLinear,
                layers = setOf(0, 1, 2, 3),
                exclude = listOf("mlp.c_proj"),
              ),
            ),
          training =
            TrainingPlan(
              optimizer = Optimizer.AdamW(2e-4, 0.9, 0.999, 1e-8, 0.01),
              loraPlusRatio = 16.0,
              schedule = Schedule.Cosine(Warmup.Steps(100), 0.1),
              batchSize = 8,
              gradAccumulation = 4,
              maxSteps = 1000,
              epochs = null,
              maxGradNorm = 1.0,
              precision = Precision.BF16,
              seed = 42,
              evalEvery = 100,
              checkpointEvery = 500,
              keepCheckpoints = 3,
              earlyStopping = EarlyStopping(5, 0.0),
            ),
          data =
            DataPlan(
              train = "samples/data/fortunes.txt.gz",
              format = DataFormat.TEXT,
              seqLen = 128,
              validationSplit = 0.05,
            ),
          quantization = QuantizationPlan(Quantization.NF4, doubleQuant = true),
        )
    }

    test("a plan with only a target gets PEFT's adapter defaults, one epoch and no data") {
      val plan = lora("base") { target("q_proj") }
      plan.defaults shouldBe AdapterDefaults(rank = 8, alpha = 8.0, dropout = 0.0)
      plan.training shouldBe TrainingPlan()
      plan.training.epochs shouldBe 1
      plan.training.maxSteps shouldBe null
      plan.data shouldBe null
      plan.quantization shouldBe QuantizationPlan(Quantization.NONE, false)
    }

    test("setting epochs keeps maxSteps unset and setting maxSteps leaves epochs unset") {
      lora("b") {
          target("q_proj")
          training { epochs = 3 }
        }
        .training
        .let { (it.epochs to it.maxSteps) shouldBe (3 to null) }
      lora("b") {
          target("q_proj")
          training { maxSteps = 10 }
        }
        .training
        .let { (it.epochs to it.maxSteps) shouldBe (null to 10) }
    }

    test("a block opened twice continues where it left off") {
      val plan =
        lora("b") {
          target("q_proj")
          training { batchSize = 4 }
          training { gradAccumulation = 2 }
          defaults { rank = 4 }
          defaults { alpha = 2.0 }
        }
      plan.training.batchSize shouldBe 4
      plan.training.gradAccumulation shouldBe 2
      plan.defaults.rank shouldBe 4
      plan.defaults.alpha shouldBe 2.0
    }

    test("target blocks keep their order and each keeps only the overrides it sets") {
      val plan =
        lora("b") {
          allLinear()
          target("q_proj") { rank = 16 }
          targetRegex(".*\\.v_proj") {
            dropout = 0.1
            init = LoraInit.GAUSSIAN
          }
          target(TargetRule.suffix("o_proj")) { layers(1, 3) }
        }
      plan.targets shouldBe
        listOf(
          TargetRule.allLinear(),
          TargetRule.suffix("q_proj").withRank(16),
          TargetRule.regex(".*\\.v_proj").withDropout(0.1).withInit(LoraInit.GAUSSIAN),
          TargetRule.suffix("o_proj").withLayers(1, 3),
        )
    }

    test("layer ranges and single layers add up") {
      lora("b") {
          allLinear {
            layers(0..1)
            layers(5)
          }
        }
        .targets
        .single()
        .layers shouldBe setOf(0, 1, 5)
    }

    test("optimizer, schedule and warm-up helpers build the typed values") {
      val t =
        lora("b") {
            target("q_proj")
            training {
              optimizer = sgd(lr = 0.1, momentum = 0.9)
              schedule = linear(warmup = ratio(0.1), minLrRatio = 0.05)
            }
          }
          .training
      t.optimizer shouldBe Optimizer.Sgd(0.1, 0.9, 0.0)
      t.schedule shouldBe Schedule.Linear(Warmup.Ratio(0.1), 0.05)
      lora("b") {
          target("q_proj")
          training { schedule = constant(steps(3)) }
        }
        .training
        .schedule shouldBe Schedule.Constant(Warmup.Steps(3))
    }

    test("data formats carry their field names") {
      val d =
        lora("b") {
            target("q_proj")
            data {
              train("train.jsonl")
              validation("valid.jsonl")
              format = DataFormat.promptCompletion("question", "answer")
              maskPrompt = true
            }
          }
          .data!!
      d shouldBe
        DataPlan(
          train = "train.jsonl",
          validation = "valid.jsonl",
          format = DataFormat.PromptCompletion("question", "answer"),
          maskPrompt = true,
        )
      DataFormat.JSONL_TEXT shouldBe DataFormat.JsonlText("text")
      DataFormat.TOKENIZED shouldBe DataFormat.Tokenized("input_ids")
    }

    test("copy changes a plan and validated() checks the copy") {
      val plan = examplePlan()
      val copy = plan.copy(training = plan.training.copy(batchSize = 16))
      copy.training.batchSize shouldBe 16
      copy.validated() shouldBe copy
      val broken = plan.copy(training = plan.training.copy(batchSize = 0))
      shouldThrow<PlanValidationException> { broken.validated() }.message shouldContain
        "training.batchSize must be at least 1, was 0"
    }

    test("a regex with options is reported, since a plan keeps only the pattern text") {
      shouldThrow<PlanValidationException> {
          lora("b") { target(Regex("q_proj", RegexOption.IGNORE_CASE)) }
        }
        .message shouldContain "targets[0].regex options [IGNORE_CASE] are not kept"
    }
  })
