package dev.lora4j.dsl

import io.kotest.assertions.throwables.shouldThrow
import io.kotest.common.ExperimentalKotest
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import io.kotest.property.PropTestConfig
import io.kotest.property.checkAll
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive

private fun formatError(json: String): PlanFormatException =
  shouldThrow<PlanFormatException> { LoraPlan.fromJson(json) }

/** The example plan's JSON with [old] replaced by [new] (which must occur). */
private fun exampleWith(old: String, new: String): String {
  val json = examplePlan().toJson()
  json shouldContain old
  return json.replace(old, new)
}

@OptIn(ExperimentalKotest::class)
class JsonTest :
  FunSpec({
    test("every valid plan reads back equal from its JSON") {
      checkAll(500, PropTestConfig(seed = 4242), PlanArbs.plan) { plan ->
        plan.validationErrors() shouldBe emptyList()
        LoraPlan.fromJson(plan.toJson()) shouldBe plan
      }
    }

    test("the example plan's JSON has every field, sealed types tagged by a type field") {
      val json = Json.parseToJsonElement(examplePlan().toJson()).jsonObject
      json.keys shouldBe setOf("base", "defaults", "targets", "training", "data", "quantization")
      val training = json["training"]!!.jsonObject
      training["optimizer"]!!.jsonObject["type"]!!.jsonPrimitive.content shouldBe "adamw"
      training["schedule"]!!.jsonObject["type"]!!.jsonPrimitive.content shouldBe "cosine"
      training["epochs"].toString() shouldBe "null"
      training["precision"]!!.jsonPrimitive.content shouldBe "bf16"
      json["quantization"]!!.jsonObject["base"]!!.jsonPrimitive.content shouldBe "nf4"
    }

    test("targets are written with one selector each and only the overrides they set") {
      val targets =
        Json.parseToJsonElement(examplePlan().toJson()).jsonObject["targets"]!!.jsonArray
      targets[0] shouldBe Json.parseToJsonElement("""{"suffix":"c_attn","slices":["q","v"]}""")
      targets[1] shouldBe
        Json.parseToJsonElement(
          """{"regex":"model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj","rank":16,"alpha":32.0}"""
        )
      targets[2] shouldBe
        Json.parseToJsonElement(
          """{"allLinear":true,"layers":[0,1,2,3],"exclude":["mlp.c_proj"]}"""
        )
    }

    test("a regex target is the pattern as a JSON string") {
      val plan = lora("b") { target(Regex("mlp\\.c_.*")) }
      (Json.parseToJsonElement(plan.toJson()).jsonObject["targets"]!!.jsonArray[0] as JsonObject)[
          "regex"]!!
        .jsonPrimitive
        .content shouldBe "mlp\\.c_.*"
    }

    test("a minimal hand-written plan takes every default") {
      LoraPlan.fromJson("""{"base": "runs/gpt2", "targets": [{"suffix": "c_attn"}]}""") shouldBe
        lora("runs/gpt2") { target("c_attn") }
    }

    test("an unknown field is an error naming its JSON path") {
      val e = formatError(exampleWith("\"batchSize\": 8", "\"batchSize\": 8, \"batchSise\": 8"))
      e.message shouldContain "unknown key 'batchSise'"
      e.message shouldContain "at path: \$.training"
      e.message shouldNotContain "ignoreUnknownKeys"
    }

    test("an unknown field inside a target is an error naming the target") {
      val e = formatError("""{"base": "b", "targets": [{"suffix": "q_proj", "rnak": 4}]}""")
      e.message shouldContain "unknown key 'rnak'"
      e.message shouldContain "at path: \$.targets[0]"
    }

    test("a string where a number belongs is an error naming its JSON path") {
      formatError(exampleWith("\"batchSize\": 8", "\"batchSize\": \"eight\"")).message shouldContain
        "at path: \$.training.batchSize"
    }

    test("a fraction where an integer belongs is an error naming its JSON path") {
      formatError(exampleWith("\"seqLen\": 128", "\"seqLen\": 1.5")).message shouldContain
        "at path: \$.data.seqLen"
    }

    test("a wrong type inside a target names the target's index") {
      formatError("""{"base": "b", "targets": [{"suffix": "q"}, {"suffix": "k", "rank": "x"}]}""")
        .message shouldContain "at path: \$.targets[1].rank"
    }

    test("an unknown enum value names the path and the known values") {
      formatError(exampleWith("\"bf16\"", "\"fp16\"")).message shouldContain
        "unknown value \"fp16\" for Precision at path: \$.training.precision; known: f32, bf16"
    }

    test("an unknown optimizer type names the path and the known types") {
      formatError(exampleWith("\"adamw\"", "\"adam\"")).message shouldContain
        "unknown type \"adam\" for Optimizer at path: \$.training.optimizer; known: adamw, sgd"
    }

    test("a target without a selector is an error naming its index") {
      formatError("""{"base": "b", "targets": [{"suffix": "q"}, {"rank": 4}]}""")
        .message shouldContain
        "a target needs exactly one of \"suffix\", \"regex\" or \"allLinear\": true, found 0 " +
          "at path: \$.targets[1]"
    }

    test("a target with two selectors is an error naming its index") {
      formatError("""{"base": "b", "targets": [{"suffix": "q", "regex": "q"}]}""")
        .message shouldContain "found 2 at path: \$.targets[0]"
    }

    test("a missing base is an error naming the field") {
      formatError("""{"targets": [{"suffix": "q"}]}""").message shouldContain
        "Field 'base' is required"
    }

    test("malformed JSON is a format error") {
      formatError("{").message shouldContain "not a valid lora4j plan"
    }

    test("a well-formed but invalid plan is a validation error with the JSON field names") {
      val e =
        shouldThrow<PlanValidationException> {
          LoraPlan.fromJson(
            exampleWith("\"seqLen\": 128", "\"seqLen\": 1").replace("\"lr\": 2.0E-4", "\"lr\": -1")
          )
        }
      e.problems shouldBe
        listOf(
          "training.optimizer.lr must be > 0, was -1.0",
          "data.seqLen must be at least 2, was 1 (a sequence predicts each next token)",
        )
    }
  })
