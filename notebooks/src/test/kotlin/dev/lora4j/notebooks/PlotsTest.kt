package dev.lora4j.notebooks

import dev.lora4j.adapter.LoraFactors
import dev.lora4j.analysis.Amplification
import dev.lora4j.analysis.ModuleSpectrum
import dev.lora4j.analysis.SubspaceSimilarity
import dev.lora4j.dsl.Slice
import dev.lora4j.dsl.lora
import dev.lora4j.model.Architecture
import dev.lora4j.model.Gpt2Config
import dev.lora4j.train.TrainingEvent
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import java.io.ByteArrayInputStream
import java.nio.file.Path
import javax.xml.parsers.DocumentBuilderFactory
import kotlin.random.Random

/** Every picture is well-formed SVG that says what it shows; the numbers behind it are right. */
class PlotsTest :
  FunSpec({
    val out = Path.of("target/test-figures")

    fun wellFormed(figure: Figure, name: String) {
      figure.save(out.resolve("$name.svg"))
      val doc =
        DocumentBuilderFactory.newInstance()
          .newDocumentBuilder()
          .parse(ByteArrayInputStream(figure.svg.toByteArray()))
      doc.documentElement.tagName shouldBe "svg"
      figure.svg shouldNotContain "NaN"
      figure.svg shouldNotContain "Infinity"
    }

    fun factors(module: String, rank: Int, seed: Int, n: Int = 32): LoraFactors {
      val random = Random(seed)
      return LoraFactors(
        module,
        rank,
        n,
        n,
        FloatArray(rank * n) { random.nextFloat() - 0.5f },
        FloatArray(n * rank) { random.nextFloat() - 0.5f },
      )
    }

    val modules =
      listOf(
        "model.layers.0.self_attn.q_proj",
        "model.layers.0.self_attn.v_proj",
        "model.layers.1.self_attn.q_proj",
        "model.layers.1.self_attn.v_proj",
      )

    test("module names split into layer and kind for Llama and GPT-2 paths") {
      ModuleName.of("model.layers.12.self_attn.q_proj") shouldBe ModuleName(12, "self_attn.q_proj")
      ModuleName.of("transformer.h.3.attn.c_attn") shouldBe ModuleName(3, "attn.c_attn")
      ModuleName.labels(listOf("transformer.h.3.attn.c_attn", "transformer.h.3.mlp.c_fc"))
        .values shouldContainExactly listOf("3.c_attn", "3.c_fc")
      // GPT-2 has c_proj in attention and in the MLP: the label keeps the part that tells them
      // apart
      ModuleName.labels(listOf("transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_proj"))
        .values shouldContainExactly listOf("0.attn.c_proj", "0.mlp.c_proj")
      ModuleName.of("lm_head") shouldBe ModuleName(-1, "lm_head")
    }

    test("ticks are round numbers covering the range") {
      Style.ticks(0.0, 1.0, 5).map { Style.tickLabel(it, 0.2) } shouldContainExactly
        listOf("0", "0.2", "0.4", "0.6", "0.8", "1.0")
      Style.ticks(3.7, 61.0, 5) shouldContainExactly listOf(20.0, 40.0, 60.0)
      Style.tickLabel(0.002, 0.001) shouldBe "0.002"
      Style.compact(0.316) shouldBe "0.316"
      Style.compact(2.0) shouldBe "2"
    }

    test("text is escaped") {
      val c = SvgCanvas(10.0, 10.0)
      c.text(0.0, 0.0, "a < b & \"c\"")
      c.render() shouldContain "a &lt; b &amp; &quot;c&quot;"
    }

    test("training events draw loss, validation and learning rate") {
      val events =
        (1L..30L).map { TrainingEvent.Step(it, 30, 5.0 / it, 1e-3 * it / 30, 1.0, 0.0, 0, 0) } +
          listOf(
            TrainingEvent.Evaluated(15, 1.0, 2.7, true),
            TrainingEvent.Evaluated(30, 0.5, 1.6, true)
          )
      val figure = trainingCurves(events)
      wellFormed(figure, "training")
      figure.svg shouldContain "learning rate"
      figure.svg shouldContain "validation"
      figure.text shouldContain "30 steps"
    }

    test("an empty event list draws 'no data' rather than failing") {
      wellFormed(trainingCurves(emptyList()), "training-empty")
    }

    test("spectra, norms and effective ranks of an adapter's modules") {
      val spectra =
        modules.withIndex().associate { (i, m) -> m to ModuleSpectrum.of(factors(m, 4, i), 2.0) }
      wellFormed(spectraOverview(spectra, "overview"), "spectra")
      wellFormed(effectiveRanks(spectra), "effective-ranks")
      // one heatmap cell per module, holding its norm
      val norm = normHeatmap(spectra)
      modules.forEach { m -> norm.svg shouldContain Style.number(spectra.getValue(m).frobenius()) }
    }

    test("a module missing from one layer leaves a gray cell") {
      val spectra = modules.take(3).associateWith { ModuleSpectrum.of(factors(it, 2, 1), 1.0) }
      val figure = normHeatmap(spectra)
      wellFormed(figure, "norm-missing")
      figure.svg shouldContain "#dddddd"
    }

    test("φ heatmap of a rank-4 against a rank-16 adapter has 4 × 16 cells") {
      val s = SubspaceSimilarity.of(factors(modules[0], 4, 1), factors(modules[0], 16, 2))
      val figure = phiHeatmap(s, "r = 4", "r = 16")
      wellFormed(figure, "phi")
      Regex("<rect [^>]*><title>").findAll(figure.svg).count() shouldBe 4 * 16
      val sims =
        modules.associateWith { SubspaceSimilarity.of(factors(it, 4, 1), factors(it, 16, 2)) }
      wellFormed(similarityOverview(sims), "phi-overview")
      wellFormed(phiHeatmaps(sims.values.take(2), "r = 4", "r = 16", "two modules"), "phi-two")
    }

    test("amplification tables put each adapter in its own column group") {
      val a = modules.associateWith { Amplification(it, 2.0, 0.5, 4.0) }
      val table = amplificationTable("r = 4" to a, "r = 16" to a)
      table.columns.size shouldBe 7
      table.rows.size shouldBe 4
      table.text() shouldContain "r = 16 factor"
      table.html() shouldContain "<td"
      amplificationTable(a).columns shouldContainExactly
        listOf("module", "‖ΔW‖_F", "‖UᵀWV‖_F", "factor")
    }

    test("a plan's summary counts LoRA parameters as lora4j plan does") {
      val config = Gpt2Config(100, 32, 64, 2, 4, 256, 1e-5, "gelu_new", true, "float32")
      val plan =
        lora(base = "unused") {
          defaults {
            rank = 4
            alpha = 8.0
          }
          target("c_attn", slices = setOf(Slice.Q, Slice.V))
          target("mlp.c_fc")
        }
      val summary = PlanSummary.of(plan, Architecture.of(config))
      summary.modules.size shouldBe 4
      val attn = summary.modules.first { it.name.endsWith("c_attn") }
      attn.params shouldBe 4L * 64 * 2 + 4L * (64 + 64) // A per slice, B over q and v
      val fc = summary.modules.first { it.name.endsWith("c_fc") }
      fc.params shouldBe 4L * 64 + 4L * 256
      summary.trainableParams shouldBe 2 * (attn.params + fc.params)
      summary.headline() shouldContain "4 adapted modules"
      wellFormed(summary.budget(), "plan-budget")
    }
  })
