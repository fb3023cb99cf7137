package dev.lora4j.script

import dev.lora4j.dsl.Slice
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import java.nio.file.Files

class LoraScriptsTest :
  FunSpec({
    test("a script's last expression is the plan, with the DSL imported implicitly") {
      val file = Files.createTempFile("plan", ".lora.kts")
      Files.writeString(
        file,
        """
        val steps = 10 * 3
        lora(base = "runs/quickstart/base") {
          target("c_attn", slices = setOf(Slice.Q, Slice.V)) { rank = 4 }
          training { maxSteps = steps }
        }
        """
          .trimIndent(),
      )
      val plan = LoraScripts.evalPlan(file)
      plan.base shouldBe "runs/quickstart/base"
      plan.training.maxSteps shouldBe 30
      plan.targets.single().slices shouldBe setOf(Slice.Q, Slice.V)
    }

    test("a compile error is reported with file, line and column") {
      val file = Files.createTempFile("broken", ".lora.kts")
      Files.writeString(file, "lora(base = \"x\") {\n  target(\"q_proj\")\n  nonsense(3)\n}\n")
      val e = shouldThrow<LoraScriptException> { LoraScripts.evalPlan(file) }
      e.message shouldContain "$file:3:3"
      e.message shouldContain "nonsense"
    }

    test("a script that ends with something other than a plan says so") {
      val file = Files.createTempFile("notaplan", ".lora.kts")
      Files.writeString(file, "42")
      shouldThrow<LoraScriptException> { LoraScripts.evalPlan(file) }.message shouldContain
        "not a plan"
    }
  })
