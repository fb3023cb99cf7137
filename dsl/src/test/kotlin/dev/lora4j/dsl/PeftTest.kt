package dev.lora4j.dsl

import dev.lora4j.dsl.peft.PeftConfigException
import dev.lora4j.dsl.peft.PeftLoraConfig
import dev.lora4j.dsl.peft.TargetModules
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.common.ExperimentalKotest
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.property.Arb
import io.kotest.property.PropTestConfig
import io.kotest.property.arbitrary.bind
import io.kotest.property.arbitrary.boolean
import io.kotest.property.arbitrary.choice
import io.kotest.property.arbitrary.constant
import io.kotest.property.arbitrary.element
import io.kotest.property.arbitrary.enum
import io.kotest.property.arbitrary.int
import io.kotest.property.arbitrary.list
import io.kotest.property.arbitrary.map
import io.kotest.property.arbitrary.orNull
import io.kotest.property.arbitrary.subsequence
import io.kotest.property.checkAll
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonPrimitive

/** One adapted module as PEFT's rules or a plan's resolution see it. */
private data class Adapted(val module: String, val rank: Int, val alpha: Double, val scale: Double)

/** What PEFT would do with [config] on a model with these projections. */
private fun peftView(config: PeftLoraConfig, projections: List<ProjectionInfo>): List<Adapted> =
  projections
    .filter { config.selects(it.name) }
    .map {
      Adapted(it.name, config.rankFor(it.name), config.alphaFor(it.name), config.scaleFor(it.name))
    }

/** What a plan resolves to, slices aside. */
private fun planView(plan: LoraPlan, projections: List<ProjectionInfo>): List<Adapted> =
  plan.resolve(projections).map { Adapted(it.module, it.rank, it.alpha, it.scale) }

private val gpt2 = Models.gpt2()
private val llama = Models.llama()

private fun peft(json: String): PeftLoraConfig =
  PeftLoraConfig.fromJson(json, "adapter_config.json")

/** Plans whose PEFT form must select and size every module exactly as the plan does. */
private val planCases: List<Triple<String, List<ProjectionInfo>, LoraPlan>> =
  listOf(
    Triple(
      "suffix targets become a target_modules list",
      gpt2,
      lora("gpt2") {
        target("c_attn")
        target("mlp.c_proj")
      },
    ),
    Triple(
      "a regex target with rank and alpha becomes rank_pattern and alpha_pattern",
      llama,
      lora("llama") {
        target(Regex("model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj")) {
          rank = 16
          alpha = 32.0
        }
      },
    ),
    Triple(
      "all-linear with later overrides keeps each field from the last rule that sets it",
      llama,
      lora("llama") {
        defaults {
          rank = 8
          alpha = 16.0
        }
        allLinear()
        target("q_proj") { rank = 16 }
        targetRegex(".*layers\\.0\\..*") { alpha = 64.0 }
      },
    ),
    Triple(
      "shared layers and exclusions become layers_to_transform and exclude_modules",
      gpt2,
      lora("gpt2") {
        allLinear {
          layers(1)
          exclude("mlp.c_proj")
        }
      },
    ),
    Triple(
      "targets with their own layers become one regex with lookaheads",
      gpt2,
      lora("gpt2") {
        target("c_attn") { layers(0) }
        target("mlp.c_fc") {
          layers(1)
          rank = 4
        }
        target("c_proj") { exclude("attn.c_proj") }
      },
    ),
    Triple(
      "a later regex target overrides an earlier suffix target's rank",
      gpt2,
      lora("gpt2") {
        target("c_attn") { rank = 4 }
        target(Regex(".*\\.h\\.1\\.attn\\.c_attn")) { rank = 12 }
      },
    ),
    Triple(
      "a later rule that sets the default rank still shadows an earlier override",
      llama,
      lora("llama") {
        target("q_proj") { rank = 16 }
        allLinear { rank = 8 }
      },
    ),
    Triple(
      "rsLoRA scales by alpha over the square root of the rank",
      llama,
      lora("llama") {
        defaults {
          rank = 16
          alpha = 8.0
          rsLora = true
        }
        target("v_proj")
        target("q_proj") { rank = 4 }
      },
    ),
    Triple(
      "suffix and regex targets together become one regex",
      gpt2,
      lora("gpt2") {
        target("c_fc")
        target(Regex("transformer\\.h\\.0\\.attn\\..*")) { alpha = 3.0 }
      },
    ),
  )

private val peftCases: List<Triple<String, List<ProjectionInfo>, String>> =
  listOf(
    Triple(
      "a list with a rank_pattern key that names a listed module",
      llama,
      """{"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"],
         "rank_pattern": {"q_proj": 16}}""",
    ),
    Triple(
      "a regex with dotted rank keys and different alpha keys, first match winning",
      llama,
      """{"r": 8, "lora_alpha": 8, "target_modules": "model\\.layers\\.\\d+\\.self_attn\\.(q|k|v|o)_proj",
         "rank_pattern": {"layers.0.self_attn.q_proj": 4, "k_proj": 2},
         "alpha_pattern": {"o_proj": 2.0, "self_attn\\..*": 5.0}}""",
    ),
    Triple(
      "all-linear with layers_to_transform, exclude_modules and a rank key",
      llama,
      """{"r": 4, "lora_alpha": 8, "target_modules": "all-linear", "layers_to_transform": [1],
         "exclude_modules": ["down_proj"], "rank_pattern": {"gate_proj": 2}}""",
    ),
    Triple(
      "a single layer index, gaussian init and rsLoRA",
      gpt2,
      """{"r": 4, "lora_alpha": 32, "target_modules": ["c_attn", "c_proj"], "layers_to_transform": 0,
         "init_lora_weights": "gaussian", "use_rslora": true}""",
    ),
    Triple(
      "the same keys in rank_pattern and alpha_pattern",
      gpt2,
      """{"r": 8, "lora_alpha": 8, "target_modules": ["c_attn", "c_fc"],
         "rank_pattern": {"c_fc": 2, "h\\.1\\.attn\\.c_attn": 6},
         "alpha_pattern": {"c_fc": 4.0, "h\\.1\\.attn\\.c_attn": 12.0}}""",
    ),
  )

/** Targets that exist in GPT-2's projection list, for the mapping property. */
private val gpt2Rule: Arb<TargetRule> =
  Arb.bind(
    Arb.choice(
      Arb.element("c_attn", "c_proj", "attn.c_proj", "mlp.c_proj", "c_fc", "h.1.mlp.c_fc").map {
        TargetSelector.Suffix(it)
      },
      Arb.element(
          "transformer\\.h\\.\\d+\\.attn\\..*",
          ".*c_(fc|proj)",
          ".*\\.h\\.0\\..*",
          "transformer\\.h\\.1\\.mlp\\.c_proj",
        )
        .map { TargetSelector.Pattern(it) },
      Arb.constant(TargetSelector.AllLinear),
    ),
    Arb.subsequence(listOf(0, 1)).map { it.toSet() },
    Arb.subsequence(listOf("mlp.c_proj", "c_fc")),
    Arb.int(1, 32).orNull(0.5),
    Arb.element(1.0, 2.0, 8.0, 16.0, 32.0).orNull(0.5),
  ) { select, layers, exclude, rank, alpha ->
    TargetRule(select, layers = layers, exclude = exclude, rank = rank, alpha = alpha)
  }

private val gpt2Plan: Arb<LoraPlan> =
  Arb.bind(
    Arb.list(gpt2Rule, 1..4),
    Arb.int(1, 16),
    Arb.element(4.0, 8.0, 16.0),
    Arb.boolean(),
    Arb.enum<LoraInit>(),
  ) { rules, rank, alpha, rs, init ->
    LoraPlan("gpt2", AdapterDefaults(rank, alpha, 0.0, init, rs), rules.distinct())
  }

@OptIn(ExperimentalKotest::class)
class PeftTest :
  FunSpec({
    context("PEFT's own matching rules, as PeftLoraConfig implements them") {
      test("a list entry c_proj matches both attn.c_proj and mlp.c_proj") {
        val names = TargetModules.names("c_proj")
        names.matches("transformer.h.0.attn.c_proj") shouldBe true
        names.matches("transformer.h.0.mlp.c_proj") shouldBe true
        names.matches("transformer.h.0.attn.xc_proj") shouldBe false
        names.matches("c_proj") shouldBe true
      }

      test("a list entry mlp.c_proj matches only the MLP's c_proj") {
        val names = TargetModules.names("mlp.c_proj")
        names.matches("transformer.h.0.mlp.c_proj") shouldBe true
        names.matches("transformer.h.0.attn.c_proj") shouldBe false
      }

      test("a string is a regex that must match the whole path") {
        TargetModules.pattern("c_attn").matches("transformer.h.0.attn.c_attn") shouldBe false
        TargetModules.pattern(".*c_attn").matches("transformer.h.0.attn.c_attn") shouldBe true
        TargetModules.pattern(".*c_att").matches("transformer.h.0.attn.c_attn") shouldBe false
        TargetModules.pattern("all-linear") shouldBe TargetModules.AllLinear
      }

      test("rank_pattern gives a module the value of the first key matching (.*\\.)?(key)$") {
        val config =
          PeftLoraConfig(
            r = 8,
            targetModules = TargetModules.names("c_proj"),
            rankPattern = linkedMapOf("c_proj" to 4, "mlp.c_proj" to 16, "proj" to 2),
          )
        config.rankFor("transformer.h.0.mlp.c_proj") shouldBe 4
        config.rankFor("transformer.h.0.attn.c_proj") shouldBe 4
        PeftLoraConfig(rankPattern = mapOf("proj" to 2))
          .rankFor("transformer.h.0.mlp.c_proj") shouldBe 8
        PeftLoraConfig(rankPattern = mapOf("h.0.attn.c_proj" to 2)).let {
          it.rankFor("transformer.h.0.attn.c_proj") shouldBe 2
          it.rankFor("transformer.h.1.attn.c_proj") shouldBe 8
        }
      }

      test("alpha_pattern works like rank_pattern and falls back to lora_alpha") {
        val config = PeftLoraConfig(loraAlpha = 16.0, alphaPattern = mapOf("c_fc" to 64.0))
        config.alphaFor("transformer.h.0.mlp.c_fc") shouldBe 64.0
        config.alphaFor("transformer.h.0.mlp.c_proj") shouldBe 16.0
      }

      test("use_rslora scales by alpha over the square root of r") {
        PeftLoraConfig(r = 16, loraAlpha = 8.0).scaleFor("x") shouldBe 0.5
        PeftLoraConfig(r = 16, loraAlpha = 8.0, useRslora = true).scaleFor("x") shouldBe 2.0
      }

      test("layers_to_transform keeps only the listed layers") {
        val config =
          PeftLoraConfig(
            targetModules = TargetModules.names("c_attn"),
            layersToTransform = JsonArray(listOf(JsonPrimitive(1))),
          )
        config.selects("transformer.h.0.attn.c_attn") shouldBe false
        config.selects("transformer.h.1.attn.c_attn") shouldBe true
        config
          .copy(layersToTransform = JsonPrimitive(0))
          .selects("transformer.h.0.attn.c_attn") shouldBe true
      }

      test("exclude_modules removes modules the targets would pick") {
        val config =
          PeftLoraConfig(
            targetModules = TargetModules.AllLinear,
            excludeModules = TargetModules.names("mlp.c_proj"),
          )
        config.selects("transformer.h.0.mlp.c_proj") shouldBe false
        config.selects("transformer.h.0.attn.c_proj") shouldBe true
      }

      test("an adapter config without target_modules names the file and the fix") {
        shouldThrow<PeftConfigException> { peft("""{"r": 8}""") }.message shouldContain
          "adapter_config.json: target_modules is missing"
      }
    }

    context("plan to PEFT") {
      for ((name, projections, plan) in planCases) {
        test(name) {
          peftView(plan.toPeftConfig(), projections) shouldBe planView(plan, projections)
        }
      }

      test("suffix targets give a plain list and per-target values a minimal rank_pattern") {
        val config =
          lora("gpt2") {
              defaults { alpha = 16.0 }
              target("c_attn") { rank = 4 }
              target("mlp.c_proj")
            }
            .toPeftConfig()
        config.targetModules shouldBe TargetModules.names("c_attn", "mlp.c_proj")
        config.rankPattern shouldBe mapOf("c_attn" to 4)
        config.alphaPattern shouldBe emptyMap()
        config.r shouldBe 8
        config.loraAlpha shouldBe 16.0
        config.baseModelNameOrPath shouldBe "gpt2"
        config.fanInFanOut shouldBe false
      }

      test("a regex target is kept as it is, and its override key is anchored") {
        val config =
          lora("llama") {
              target(Regex("model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj")) { rank = 16 }
            }
            .toPeftConfig()
        config.targetModules shouldBe
          TargetModules.pattern("model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj")
        config.rankPattern shouldBe
          mapOf("^(?:model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj)" to 16)
      }

      test("rank_pattern lists later targets first, as PEFT takes the first match") {
        lora("gpt2") {
            target("c_attn") { rank = 4 }
            target(Regex(".*\\.h\\.1\\.attn\\.c_attn")) { rank = 12 }
          }
          .toPeftConfig()
          .rankPattern
          .keys
          .toList() shouldContainExactly listOf("^(?:.*\\.h\\.1\\.attn\\.c_attn)", "c_attn")
      }

      test("layers and exclusions shared by every target become PEFT's own fields") {
        val config =
          lora("gpt2") {
              allLinear {
                layers(1)
                exclude("mlp.c_proj")
              }
            }
            .toPeftConfig()
        config.targetModules shouldBe TargetModules.AllLinear
        config.layersToTransform shouldBe JsonArray(listOf(JsonPrimitive(1)))
        config.excludeModules shouldBe TargetModules.names("mlp.c_proj")
      }

      test("gaussian init and rsLoRA carry over") {
        val config =
          lora("b") {
              defaults {
                init = LoraInit.GAUSSIAN
                rsLora = true
              }
              target("q_proj")
            }
            .toPeftConfig()
        config.initName() shouldBe "gaussian"
        config.useRslora shouldBe true
      }

      test("all-linear beside targets with other layers has no PEFT form") {
        shouldThrow<PlanValidationException> {
            lora("gpt2") {
                allLinear { layers(0) }
                target("c_attn")
              }
              .toPeftConfig()
          }
          .message shouldContain "PEFT cannot combine all-linear with other targets"
      }

      test("a sliced target appears as its whole module in the plan's own PEFT form") {
        val plan = lora("gpt2") { target("c_attn", slices = setOf(Slice.Q, Slice.V)) }
        plan.toPeftConfig().targetModules shouldBe TargetModules.names("c_attn")
        plan.toPeftConfig().rankPattern shouldBe emptyMap()
      }

      test("the resolved form writes a sliced adapter as the equivalent whole-module adapter") {
        val plan =
          lora("gpt2") {
            defaults {
              rank = 4
              alpha = 32.0
            }
            target("c_attn", slices = setOf(Slice.Q, Slice.V))
            target("mlp.c_fc") { rank = 2 }
          }
        val config = plan.toPeftConfig(gpt2)
        config.targetModules shouldBe
          TargetModules.names(
            "transformer.h.0.attn.c_attn",
            "transformer.h.0.mlp.c_fc",
            "transformer.h.1.attn.c_attn",
            "transformer.h.1.mlp.c_fc",
          )
        config.rankFor("transformer.h.0.attn.c_attn") shouldBe 8
        config.alphaFor("transformer.h.0.attn.c_attn") shouldBe 64.0
        config.scaleFor("transformer.h.0.attn.c_attn") shouldBe 8.0
        config.rankFor("transformer.h.1.mlp.c_fc") shouldBe 2
        config.scaleFor("transformer.h.1.mlp.c_fc") shouldBe 16.0
        config.rankPattern.keys shouldBe
          setOf(
            "transformer\\.h\\.0\\.attn\\.c_attn",
            "transformer\\.h\\.0\\.mlp\\.c_fc",
            "transformer\\.h\\.1\\.attn\\.c_attn",
            "transformer\\.h\\.1\\.mlp\\.c_fc"
          )
      }

      test("the resolved form keeps the scale of a sliced adapter under rsLoRA too") {
        val plan =
          lora("gpt2") {
            defaults {
              rank = 4
              alpha = 8.0
              rsLora = true
            }
            target("c_attn", slices = setOf(Slice.Q, Slice.K, Slice.V))
          }
        val resolvedScale = plan.resolve(gpt2).first().scale
        val config = plan.toPeftConfig(gpt2)
        config.rankFor("transformer.h.0.attn.c_attn") shouldBe 12
        config.scaleFor("transformer.h.0.attn.c_attn") shouldBe (resolvedScale plusOrMinus 1e-12)
      }

      test("on generated GPT-2 plans both PEFT forms select and size modules as the plan does") {
        var compared = 0
        checkAll(400, PropTestConfig(seed = 7), gpt2Plan) { plan ->
          val resolved =
            try {
              planView(plan, gpt2)
            } catch (e: TargetResolutionException) {
              null
            }
          if (resolved != null) {
            withClue(plan.toJson()) {
              peftView(plan.toPeftConfig(gpt2), gpt2) shouldBe resolved
              val structural =
                try {
                  plan.toPeftConfig()
                } catch (e: PlanValidationException) {
                  null
                }
              if (structural != null) {
                compared++
                peftView(structural, gpt2) shouldBe resolved
                val back = LoraPlan.fromPeftConfig(structural, "gpt2")
                planView(back, gpt2) shouldBe resolved
              }
            }
          }
        }
        withClue("plans compared") { (compared > 100) shouldBe true }
      }
    }

    context("PEFT to plan") {
      for ((name, projections, json) in peftCases) {
        test(name) {
          val config = peft(json)
          planView(LoraPlan.fromPeftConfig(config, "base"), projections) shouldBe
            peftView(config, projections)
        }
      }

      test("defaults, init and rsLoRA come from the config, the base from the caller") {
        val plan =
          LoraPlan.fromPeftConfig(
            peft(
              """{"r": 4, "lora_alpha": 32, "lora_dropout": 0.1, "target_modules": ["c_attn"],
                 "init_lora_weights": "gaussian", "use_rslora": true}"""
            ),
            "runs/gpt2",
          )
        plan.base shouldBe "runs/gpt2"
        plan.defaults shouldBe AdapterDefaults(4, 32.0, 0.1, LoraInit.GAUSSIAN, true)
        plan.targets shouldBe listOf(TargetRule.suffix("c_attn"))
        plan.training shouldBe TrainingPlan()
        plan.data shouldBe null
      }

      test("a plain rank key that names a listed module becomes a suffix target") {
        LoraPlan.fromPeftConfig(
            peft("""{"target_modules": ["q_proj", "v_proj"], "rank_pattern": {"q_proj": 16}}"""),
            "b",
          )
          .targets shouldBe
          listOf(
            TargetRule.suffix("q_proj"),
            TargetRule.suffix("v_proj"),
            TargetRule.suffix("q_proj").withRank(16),
          )
      }

      test("a dotted rank key becomes a regex target restricted to the config's targets") {
        val plan =
          LoraPlan.fromPeftConfig(
            peft(
              """{"target_modules": ["q_proj", "v_proj"],
                 "rank_pattern": {"layers.0.self_attn.q_proj": 16}}"""
            ),
            "b",
          )
        plan.targets.last() shouldBe
          TargetRule.regex(
              "(?=(?:.*\\.)?(?:q_proj|v_proj)$)(?:.*\\.)?(?:layers.0.self_attn.q_proj)"
            )
            .withRank(16)
      }

      test("what lora4j cannot train is listed, every problem at once") {
        val e =
          shouldThrow<PlanValidationException> {
            LoraPlan.fromPeftConfig(
              PeftLoraConfig(
                targetModules = null,
                useDora = true,
                bias = "all",
                modulesToSave = listOf("lm_head"),
                initLoraWeights = JsonPrimitive("pissa"),
                excludeModules = TargetModules.pattern(".*mlp.*"),
                layersPattern = JsonPrimitive("decoder_blocks"),
              ),
              "b",
            )
          }
        e.problems shouldContainExactly
          listOf(
            "use_dora is true; lora4j does not train DoRA adapters",
            "bias is \"all\"; lora4j trains the LoRA factors only (bias \"none\")",
            "modules_to_save [lm_head] asks for fully trained modules; lora4j trains adapters only",
            "init_lora_weights \"pissa\" has no lora4j equivalent; use true (kaiming-uniform) or " +
              "\"gaussian\"",
            "layers_pattern \"decoder_blocks\": lora4j finds layer indices after \"layers.\", " +
              "\"h.\", \"blocks.\", \"layer.\"; leave layers_pattern unset",
            "exclude_modules \".*mlp.*\": only a list of module names has a lora4j form",
            "target_modules is missing; name the adapted modules",
          )
      }
    }
  })
