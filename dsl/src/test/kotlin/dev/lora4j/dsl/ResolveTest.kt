package dev.lora4j.dsl

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.collections.shouldHaveSize
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain

private val gpt2 = Models.gpt2()
private val llama = Models.llama()

private fun resolutionError(projections: List<ProjectionInfo>, block: LoraPlanBuilder.() -> Unit) =
  shouldThrow<TargetResolutionException> { lora("b", block).resolve(projections) }

class ResolveTest :
  FunSpec({
    context("GPT-2") {
      test("c_attn[q,v] adapts the q and v slices of every layer's fused attention") {
        lora("gpt2") {
            defaults {
              rank = 4
              alpha = 32.0
              dropout = 0.1
            }
            target("c_attn", slices = setOf(Slice.Q, Slice.V))
          }
          .resolve(gpt2) shouldBe
          listOf(0, 1).map {
            ResolvedTarget(
              "transformer.h.$it.attn.c_attn",
              rank = 4,
              alpha = 32.0,
              scale = 8.0,
              dropout = 0.1,
              init = LoraInit.KAIMING_UNIFORM,
              slices = listOf("q", "v"),
            )
          }
      }

      test("slices come out in the projection's order, whatever order the plan names them") {
        lora("gpt2") { target("c_attn", slices = setOf(Slice.V, Slice.Q)) }
          .resolve(gpt2)
          .first()
          .slices shouldBe listOf("q", "v")
      }

      test("c_proj matches both c_proj modules of every layer, in projection order") {
        lora("gpt2") { target("c_proj") }.resolve(gpt2).map { it.module } shouldBe
          listOf(
            "transformer.h.0.attn.c_proj",
            "transformer.h.0.mlp.c_proj",
            "transformer.h.1.attn.c_proj",
            "transformer.h.1.mlp.c_proj",
          )
      }

      test("all-linear with a layer range and an exclusion") {
        lora("gpt2") {
            allLinear {
              layers(1..1)
              exclude("mlp.c_proj")
            }
          }
          .resolve(gpt2)
          .map { it.module } shouldBe
          listOf(
            "transformer.h.1.attn.c_attn",
            "transformer.h.1.attn.c_proj",
            "transformer.h.1.mlp.c_fc",
          )
      }

      test(
        "a later target overrides only the fields it sets, and its slices replace earlier ones"
      ) {
        val resolved =
          lora("gpt2") {
              defaults {
                rank = 8
                alpha = 16.0
              }
              target("c_attn", slices = setOf(Slice.Q, Slice.V)) { rank = 4 }
              allLinear {
                layers(1)
                alpha = 8.0
                init = LoraInit.GAUSSIAN
              }
            }
            .resolve(gpt2)
            .associateBy { it.module }
        resolved.keys shouldBe
          setOf(
            "transformer.h.0.attn.c_attn",
            "transformer.h.1.attn.c_attn",
            "transformer.h.1.attn.c_proj",
            "transformer.h.1.mlp.c_fc",
            "transformer.h.1.mlp.c_proj",
          )
        resolved.getValue("transformer.h.0.attn.c_attn").let {
          (it.rank to it.alpha) shouldBe (4 to 16.0)
          it.slices shouldBe listOf("q", "v")
          it.init shouldBe LoraInit.KAIMING_UNIFORM
        }
        resolved.getValue("transformer.h.1.attn.c_attn").let {
          (it.rank to it.alpha) shouldBe (4 to 8.0)
          it.scale shouldBe 2.0
          it.slices shouldBe emptyList()
          it.init shouldBe LoraInit.GAUSSIAN
        }
        resolved.getValue("transformer.h.1.mlp.c_fc").let {
          (it.rank to it.alpha) shouldBe (8 to 8.0)
        }
      }

      test("a target that matches nothing lists the name suffixes and the closest ones") {
        val e = resolutionError(gpt2) { target("c_atn") }
        e.problems shouldContainExactly
          listOf(
            "targets[0] (suffix \"c_atn\") matches no projection of this model. Projection names " +
              "end in: attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj (full names look like " +
              "transformer.h.0.attn.c_attn); closest to \"c_atn\": c_attn, c_fc, c_proj"
          )
      }

      test("a dotted suffix is compared with suffixes of as many parts") {
        resolutionError(gpt2) { target("mlp.c_prj") }.message shouldContain
          "closest to \"mlp.c_prj\": mlp.c_proj, mlp.c_fc, attn.c_proj"
      }

      test("a regex that matches nothing lists the names that exist") {
        resolutionError(gpt2) { target(Regex("model\\.layers\\..*")) }.message shouldContain
          "targets[0] (regex \"model\\.layers\\..*\") matches no projection of this model. " +
            "Projection names end in: attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj"
      }

      test("a slice that the matched projection lacks is an error") {
        resolutionError(gpt2) { target("c_proj", slices = setOf(Slice.Q)) }.problems shouldBe
          listOf(
            "targets[0].slices [q]: transformer.h.0.attn.c_proj has no slices (and 3 more like " +
              "it); name a fused projection that has them, e.g. c_attn[q, k, v]"
          )
      }

      test("layers the model does not have are an error") {
        resolutionError(gpt2) { allLinear { layers(0..3) } }.problems shouldBe
          listOf("targets[0].layers [2, 3] do not exist in this model (layers 0..1)")
      }

      test("an exclusion that matches nothing is an error with the closest names") {
        resolutionError(gpt2) { allLinear { exclude("mlp.c_prj") } }.problems shouldBe
          listOf(
            "targets[0].exclude[0] \"mlp.c_prj\" matches no projection of this model. " +
              "Projection names end in: attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj (full " +
              "names look like transformer.h.0.attn.c_attn); closest to \"mlp.c_prj\": " +
              "mlp.c_proj, mlp.c_fc, attn.c_proj"
          )
      }

      test("a target whose exclusions remove everything it matches is an error") {
        resolutionError(gpt2) { target("c_fc") { exclude("mlp.c_fc") } }.problems shouldBe
          listOf(
            "targets[0] (suffix \"c_fc\") selects nothing: its 2 matching projections are all " +
              "outside layers [] or excluded by [mlp.c_fc]"
          )
      }

      test("every target's problems are reported together") {
        resolutionError(gpt2) {
            target("c_atn")
            target("q_proj")
            allLinear { layers(7) }
          }
          .problems shouldHaveSize 3
      }
    }

    context("Llama") {
      test("a regex for q and v with its own rank and alpha") {
        lora("llama") {
            target(Regex("model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj")) {
              rank = 16
              alpha = 32.0
            }
          }
          .resolve(llama)
          .map { Triple(it.module, it.rank, it.scale) } shouldBe
          listOf(
            Triple("model.layers.0.self_attn.q_proj", 16, 2.0),
            Triple("model.layers.0.self_attn.v_proj", 16, 2.0),
            Triple("model.layers.1.self_attn.q_proj", 16, 2.0),
            Triple("model.layers.1.self_attn.v_proj", 16, 2.0),
          )
      }

      test("rsLoRA scales by alpha over the square root of the rank") {
        lora("llama") {
            defaults {
              rank = 16
              alpha = 32.0
              rsLora = true
            }
            target("q_proj")
          }
          .resolve(llama)
          .first()
          .scale shouldBe 8.0
      }

      test("all-linear adapts all seven projections of each layer") {
        lora("llama") { allLinear() }
          .resolve(llama)
          .map { it.module.substringAfter("layers.") } shouldBe
          listOf(0, 1).flatMap { i ->
            listOf(
                "self_attn.q_proj",
                "self_attn.k_proj",
                "self_attn.v_proj",
                "self_attn.o_proj",
                "mlp.gate_proj",
                "mlp.up_proj",
                "mlp.down_proj",
              )
              .map { "$i.$it" }
          }
      }

      test("the MLP only, without down_proj, in the last layer") {
        lora("llama") {
            targetRegex(".*\\.mlp\\..*") {
              layers(1)
              exclude("down_proj")
            }
          }
          .resolve(llama)
          .map { it.module } shouldBe
          listOf("model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj")
      }

      test("a misspelt projection lists the Llama names") {
        resolutionError(llama) { target("q_prj") }.message shouldContain
          "Projection names end in: self_attn.q_proj, self_attn.k_proj, self_attn.v_proj, " +
            "self_attn.o_proj, mlp.gate_proj, mlp.up_proj, mlp.down_proj (full names look like " +
            "model.layers.0.self_attn.q_proj); closest to \"q_prj\": q_proj, k_proj, v_proj"
      }

      test("slices on a model without fused projections say so") {
        resolutionError(llama) { target("q_proj", slices = setOf(Slice.Q)) }.message shouldContain
          "model.layers.0.self_attn.q_proj has no slices (and 1 more like it); name a fused " +
            "projection that has them, e.g. none in this model: drop the slices"
      }

      test("per-target dropout and init override the defaults") {
        val resolved =
          lora("llama") {
              defaults { dropout = 0.05 }
              target("q_proj") {
                dropout = 0.2
                init = LoraInit.GAUSSIAN
              }
              target("v_proj")
            }
            .resolve(llama)
        resolved
          .map { Triple(it.module.substringAfterLast('.'), it.dropout, it.init) }
          .distinct() shouldBe
          listOf(
            Triple("q_proj", 0.2, LoraInit.GAUSSIAN),
            Triple("v_proj", 0.05, LoraInit.KAIMING_UNIFORM),
          )
      }
    }

    test("a model without projections is an error") {
      shouldThrow<TargetResolutionException> { lora("b") { allLinear() }.resolve(emptyList()) }
        .problems shouldBe listOf("the model has no projections to adapt")
    }

    context("target patterns from the command line") {
      test("a plain name is a suffix target") {
        parseTargetPattern("c_attn") shouldBe TargetRule.suffix("c_attn")
      }

      test("a dotted name is still a suffix target") {
        parseTargetPattern("mlp.c_proj") shouldBe TargetRule.suffix("mlp.c_proj")
      }

      test("a name with slices in brackets is a sliced suffix target, in any case") {
        parseTargetPattern("c_attn[q,v]") shouldBe TargetRule.suffix("c_attn", Slice.Q, Slice.V)
        parseTargetPattern(" c_attn[ Q, V ] ") shouldBe
          TargetRule.suffix("c_attn", Slice.Q, Slice.V)
      }

      test("a string with regex metacharacters is a full-match regex") {
        parseTargetPattern("mlp\\.c_.*") shouldBe TargetRule.regex("mlp\\.c_.*")
        parseTargetPattern("model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj") shouldBe
          TargetRule.regex("model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj")
        parseTargetPattern(".*_proj") shouldBe TargetRule.regex(".*_proj")
      }

      test("a bracket class is a regex, not slices") {
        parseTargetPattern("h\\.[01]\\.attn\\.c_attn") shouldBe
          TargetRule.regex("h\\.[01]\\.attn\\.c_attn")
      }

      test("all-linear is every projection") {
        parseTargetPattern("all-linear") shouldBe TargetRule.allLinear()
      }

      test("an unknown slice lists the known ones") {
        shouldThrow<PlanValidationException> { parseTargetPattern("c_attn[q,x]") }.problems shouldBe
          listOf("target pattern \"c_attn[q,x]\": unknown slice \"x\"; slices are q, k, v")
      }

      test("empty brackets are an error") {
        shouldThrow<PlanValidationException> { parseTargetPattern("c_attn[]") }.problems shouldBe
          listOf("target pattern \"c_attn[]\": no slices inside [ ]; write e.g. c_attn[q,v]")
      }

      test("an invalid regex says why") {
        shouldThrow<PlanValidationException> { parseTargetPattern("(q|v_proj") }.problems shouldBe
          listOf(
            "target pattern \"(q|v_proj\": regex \"(q|v_proj\" is not a valid regex: " +
              "Unclosed group near index 9"
          )
      }

      test("an empty pattern is an error with examples") {
        shouldThrow<PlanValidationException> { parseTargetPattern("  ") }.problems shouldBe
          listOf(
            "target pattern is empty; write e.g. c_attn, c_attn[q,v], mlp\\.c_.* or all-linear"
          )
      }

      test("a suffix with a leading dot gets the fix") {
        shouldThrow<PlanValidationException> { parseTargetPattern(".c_attn") }.problems shouldBe
          listOf(
            "target pattern \".c_attn\": suffix \".c_attn\" must not start or end with '.'; " +
              "write \"c_attn\""
          )
      }
    }
  })
