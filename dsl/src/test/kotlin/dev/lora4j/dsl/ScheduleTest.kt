package dev.lora4j.dsl

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.doubles.plusOrMinus
import io.kotest.matchers.shouldBe

class ScheduleTest :
  FunSpec({
    test("warm-up rises linearly from 0, as Hugging Face's schedules do") {
      val s = Schedule.constant(Warmup.steps(10))
      (0..10).map { s.factor(it, 100) } shouldBe (0..10).map { minOf(it, 10) / 10.0 }
      s.factor(99, 100) shouldBe 1.0
    }

    test("a warm-up ratio is rounded up to whole steps") {
      Warmup.ratio(0.1).stepsFor(95) shouldBe 10
      Warmup.steps(7).stepsFor(95) shouldBe 7
      Warmup.NONE.stepsFor(95) shouldBe 0
    }

    test("linear decay reaches the minimum ratio at the last step") {
      val s = Schedule.linear(Warmup.NONE, 0.1)
      s.factor(0, 100) shouldBe 1.0
      s.factor(50, 100) shouldBe (0.55 plusOrMinus 1e-12)
      s.factor(100, 100) shouldBe (0.1 plusOrMinus 1e-12)
    }

    test("cosine decay starts at 1 after warm-up, halves midway and ends at the minimum") {
      val s = Schedule.cosine(Warmup.steps(10), 0.0)
      s.factor(10, 110) shouldBe 1.0
      s.factor(60, 110) shouldBe (0.5 plusOrMinus 1e-12)
      s.factor(110, 110) shouldBe (0.0 plusOrMinus 1e-12)
      Schedule.cosine(Warmup.NONE, 0.2).factor(100, 100) shouldBe (0.2 plusOrMinus 1e-12)
    }
  })
