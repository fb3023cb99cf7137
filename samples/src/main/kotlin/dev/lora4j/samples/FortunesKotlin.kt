package dev.lora4j.samples

import dev.lora4j.adapter.PeftAdapter
import dev.lora4j.compile.CompileOptions
import dev.lora4j.compile.ModelCompiler
import dev.lora4j.data.Tokenizer
import dev.lora4j.dsl.Optimizer
import dev.lora4j.dsl.Schedule
import dev.lora4j.dsl.Slice
import dev.lora4j.dsl.Warmup
import dev.lora4j.dsl.lora
import dev.lora4j.generate.Generator
import dev.lora4j.generate.SamplingOptions
import dev.lora4j.model.Checkpoint
import dev.lora4j.train.PlanRunner
import java.nio.file.Path

/**
 * Fine-tune the quickstart base on fortunes with LoRA, save the adapter, and generate with it.
 *
 * Run after `./lora4j quickstart`, with samples/target/classes and the jars of cli/target/lib on
 * the class path: `java -cp ... dev.lora4j.samples.FortunesKotlinKt`.
 */
fun main(args: Array<String>) {
  val base = args.getOrElse(0) { "runs/quickstart/base" }
  val steps = args.getOrElse(1) { "200" }.toInt()
  val out = Path.of(args.getOrElse(2) { "runs/fortunes-kotlin" })
  val data = args.getOrElse(3) { "samples/data/fortunes.txt.gz" }

  // 1. The plan: which projections get adapters, and how training is scheduled.
  val plan =
    lora(base = base) {
      defaults {
        rank = 4
        alpha = 8.0
      }
      target("c_attn", slices = setOf(Slice.Q, Slice.V))
      target("mlp.c_fc")
      training {
        optimizer = Optimizer.adamW(lr = 1e-2)
        schedule = Schedule.cosine(warmup = Warmup.ratio(0.1), minLrRatio = 0.1)
        batchSize = 16
        maxSteps = steps
      }
      data {
        train(data)
        seqLen = 64
        validationSplit = 0.1
      }
    }

  // 2. Train: the adapter is written in PEFT's format to out/adapter.
  val report = PlanRunner.run(plan, out, false, listOf())
  println("trained ${report.steps()} steps, validation loss ${report.finalValidationLoss()}")

  // 3. Generate with the adapter.
  val adapter = PeftAdapter.load(out.resolve("adapter"))
  Checkpoint.open(Path.of(base)).use { checkpoint ->
    val specs = adapter.specsFor(checkpoint.architecture())
    ModelCompiler.compile(checkpoint, specs, CompileOptions.defaults()).use { model ->
      adapter.applyTo(model)
      val tokenizer = Tokenizer.forCheckpoint(Path.of(base))
      val ids =
        Generator.generate(
          model,
          tokenizer.encode("A wise man"),
          SamplingOptions(30, 0.8, 40, 0.95, 1),
          tokenizer.eosTokenId(),
        )
      println(tokenizer.decode(ids))
    }
  }
}
