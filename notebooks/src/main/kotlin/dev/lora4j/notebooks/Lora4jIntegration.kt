package dev.lora4j.notebooks

import dev.lora4j.adapter.PeftAdapter
import dev.lora4j.analysis.Amplification
import dev.lora4j.analysis.ModuleSpectrum
import dev.lora4j.analysis.SubspaceSimilarity
import dev.lora4j.analysis.TrainingStatistics
import dev.lora4j.dsl.LoraPlan
import dev.lora4j.train.TrainingEvent
import dev.lora4j.train.TrainingReport
import java.nio.file.Files
import java.nio.file.Path
import org.jetbrains.kotlinx.jupyter.api.FieldValue
import org.jetbrains.kotlinx.jupyter.api.MIME
import org.jetbrains.kotlinx.jupyter.api.MimeTypedResult
import org.jetbrains.kotlinx.jupyter.api.RendererHandler
import org.jetbrains.kotlinx.jupyter.api.ResultHandlerExecution
import org.jetbrains.kotlinx.jupyter.api.libraries.ExecutionHost
import org.jetbrains.kotlinx.jupyter.api.libraries.JupyterIntegration

/**
 * What loading the lora4j jars into the Kotlin Jupyter kernel does (declared in
 * META-INF/kotlin-jupyter-libraries/libraries.json): imports the plan DSL and the engine's
 * packages, and draws lora4j values as pictures that work offline (SVG stored in the notebook).
 */
class Lora4jIntegration : JupyterIntegration() {
  override fun Builder.onLoaded() {
    import(
      "dev.lora4j.dsl.*",
      // explicit, so it wins over the engine's dev.lora4j.data.DataFormat
      "dev.lora4j.dsl.DataFormat",
      "dev.lora4j.adapter.*",
      "dev.lora4j.analysis.*",
      "dev.lora4j.compile.*",
      "dev.lora4j.generate.*",
      "dev.lora4j.model.*",
      "dev.lora4j.train.*",
      "dev.lora4j.data.Tokenizer",
      "dev.lora4j.data.BpeTrainer",
      "dev.lora4j.notebooks.*",
      "java.nio.file.Path",
      "java.nio.file.Files",
    )
    render<Figure> { svg(it) }
    render<Table> { html(it) }
    render<PlanSummary> { plan(it) }
    render<LoraPlan> { plan ->
      val config = Path.of(plan.base).resolve("config.json")
      val problem =
        if (!Files.isRegularFile(config)) "base ${plan.base} has no config.json yet"
        else
          try {
            return@render plan(PlanSummary.of(plan))
          } catch (e: RuntimeException) {
            "the plan does not resolve against ${plan.base}: ${e.message}"
          }
      // an unresolvable plan is still a value worth seeing
      MIME(
        "text/html" to
          "<p>${SvgCanvas.escape(problem)}</p><pre>${SvgCanvas.escape(plan.toJson())}</pre>",
        "text/plain" to problem + "\n" + plan.toJson(),
      )
    }
    render<TrainingReport> { svg(lossCurve(it)) }
    render<PeftAdapter> { svg(adapterOverview(it)) }
    render<SubspaceSimilarity> { svg(phiHeatmap(it)) }
    render<TrainingStatistics> { svg(normsOverTraining(it)) }
    render<ModuleSpectrum> { svg(spectra(mapOf(it.module() to it))) }
    // Collections are rendered by what they hold (generic types are erased at run time).
    addRenderer(
      ContentRenderer({ v -> v is List<*> && v.isNotEmpty() && v.all { it is TrainingEvent } }) {
        @Suppress("UNCHECKED_CAST") svg(trainingCurves(it as List<TrainingEvent>))
      }
    )
    addRenderer(
      ContentRenderer(mapOf<ModuleSpectrum>()) {
        @Suppress("UNCHECKED_CAST") svg(spectraOverview(it as Map<String, ModuleSpectrum>))
      }
    )
    addRenderer(
      ContentRenderer(mapOf<SubspaceSimilarity>()) {
        @Suppress("UNCHECKED_CAST") svg(similarityOverview(it as Map<String, SubspaceSimilarity>))
      }
    )
    addRenderer(
      ContentRenderer(mapOf<Amplification>()) {
        @Suppress("UNCHECKED_CAST") html(amplificationTable(it as Map<String, Amplification>))
      }
    )
  }

  private fun svg(figure: Figure): MimeTypedResult =
    MIME("image/svg+xml" to figure.svg, "text/plain" to figure.text)

  private fun html(table: Table): MimeTypedResult =
    MIME("text/html" to table.html(), "text/plain" to table.text())

  private fun plan(summary: PlanSummary): MimeTypedResult =
    MIME(
      "text/html" to summary.table().html() + "<br/>" + summary.budget().imgTag(),
      "text/plain" to summary.text(),
    )

  private inline fun <reified T> mapOf(): (Any?) -> Boolean = { v ->
    v is Map<*, *> && v.isNotEmpty() && v.keys.all { it is String } && v.values.all { it is T }
  }

  /** Renders values that pass [accepts] with [render]. */
  private class ContentRenderer(
    private val accepts: (Any?) -> Boolean,
    private val render: (Any) -> Any,
  ) : RendererHandler {
    override fun accepts(value: Any?): Boolean = accepts.invoke(value)

    override val execution: ResultHandlerExecution =
      object : ResultHandlerExecution {
        override fun execute(host: ExecutionHost, result: FieldValue): FieldValue =
          FieldValue(render(result.value!!), null)

        override fun replaceVariables(mapping: Map<String, String>): ResultHandlerExecution = this
      }

    override fun replaceVariables(mapping: Map<String, String>): RendererHandler = this
  }
}
