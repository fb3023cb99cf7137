package dev.lora4j.samples

import dev.lora4j.data.BpeTrainer
import dev.lora4j.dsl.Schedule
import dev.lora4j.model.Gpt2Config
import dev.lora4j.model.RandomCheckpoint
import dev.lora4j.script.LoraScripts
import dev.lora4j.train.PlanRunner
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import java.nio.file.Files
import java.nio.file.Path
import java.util.zip.GZIPInputStream

/** Each sample runs top to bottom with a tiny step count on a tiny base made here. */
class SamplesTest :
  FunSpec({
    val fortunes = Path.of("data/fortunes.txt.gz")
    val tmp = Files.createTempDirectory("samples")
    val base = tmp.resolve("base")

    beforeSpec {
      val text =
        GZIPInputStream(Files.newInputStream(fortunes)).use { String(it.readNBytes(60_000)) }
      val tokenizer = BpeTrainer.train(listOf(text), 300, 64, base)
      RandomCheckpoint.write(
        base,
        Gpt2Config(tokenizer.vocabSize(), 64, 32, 2, 2, 128, 1e-5, "gelu_new", true, "float32"),
        3,
      )
    }

    test("the Kotlin main trains, saves a PEFT adapter and generates") {
      val out = tmp.resolve("kotlin")
      main(arrayOf(base.toString(), "3", out.toString(), fortunes.toString()))
      Files.exists(out.resolve("adapter/adapter_model.safetensors")) shouldBe true
    }

    test("the Java main does the same with the Java builder") {
      val out = tmp.resolve("java")
      FortunesJava.main(arrayOf(base.toString(), "3", out.toString(), fortunes.toString()))
      Files.exists(out.resolve("adapter/adapter_config.json")) shouldBe true
    }

    test("the .lora.kts script evaluates to a plan that trains") {
      val plan = LoraScripts.evalPlan(Path.of("fortunes.lora.kts"))
      plan.base shouldBe "runs/quickstart/base"
      val small =
        plan.copy(
          base = base.toString(),
          training =
            plan.training.copy(maxSteps = 3, evalEvery = null, schedule = Schedule.constant()),
          data = plan.data!!.copy(train = fortunes.toString(), seqLen = 32),
        )
      val report = PlanRunner.run(small, tmp.resolve("script"), false, listOf())
      report.steps() shouldBe 3L
    }
  })
