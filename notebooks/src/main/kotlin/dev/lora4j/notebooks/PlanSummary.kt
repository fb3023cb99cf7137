package dev.lora4j.notebooks

import dev.lora4j.compile.LoraTargets
import dev.lora4j.compile.ModelCompiler
import dev.lora4j.dsl.LoraPlan
import dev.lora4j.model.Architecture
import dev.lora4j.model.ModelConfig
import java.nio.file.Files
import java.nio.file.Path

/**
 * What a plan adapts on its base model, from config.json alone (the notebook form of `lora4j
 * plan`): the matched modules with their shapes and ranks, and the parameter budget.
 */
class PlanSummary(val modelType: String, val modules: List<Module>, val baseParams: Long) {
  /** One adapted projection; [params] = r·in·(number of slices, or 1) + r·(adapted outputs). */
  data class Module(
    val name: String,
    val layer: Int,
    val inFeatures: Int,
    val outFeatures: Int,
    val rank: Int,
    val scale: Double,
    val slices: List<String>,
    val params: Long,
  )

  val trainableParams: Long
    get() = modules.sumOf { it.params }

  val trainablePercent: Double
    get() = 100.0 * trainableParams / baseParams

  fun table(): Table =
    Table(
      listOf("module", "in", "out", "rank", "scale", "slices", "params"),
      modules.map {
        listOf(
          it.name,
          it.inFeatures.toString(),
          it.outFeatures.toString(),
          it.rank.toString(),
          Style.number(it.scale),
          it.slices.joinToString(","),
          Style.grouped(it.params),
        )
      },
      headline(),
    )

  fun headline(): String =
    "$modelType: ${modules.size} adapted modules, trainable parameters " +
      "${Style.grouped(trainableParams)} of ${Style.grouped(baseParams)} " +
      "(${String.format(java.util.Locale.ROOT, "%.3f", trainablePercent)}%)"

  /** Trainable parameters per layer, stacked by module kind. */
  fun budget(): Figure {
    val kinds = modules.map { ModuleName.of(it.name).kind }.distinct()
    val layers = modules.map { it.layer }.distinct().sorted()
    val series =
      kinds.map { kind ->
        ModuleName.kindLabels(kinds).getValue(kind) to
          DoubleArray(layers.size) { i ->
            modules
              .filter { it.layer == layers[i] && ModuleName.of(it.name).kind == kind }
              .sumOf { it.params }
              .toDouble()
          }
      }
    val panel =
      Charts.bars(
        "trainable parameters per layer",
        layers.map { if (it < 0) "-" else "layer $it" },
        series,
        "parameters",
        width = maxOf(320.0, 90.0 + layers.size * kinds.size * 22.0),
      )
    return Figure.of(null, listOf(panel), headline())
  }

  fun text(): String = table().text()

  override fun toString(): String = text()

  companion object {
    /** Resolves [plan] against the architecture in its base's config.json; reads no weights. */
    @JvmStatic
    fun of(plan: LoraPlan): PlanSummary {
      val config = Path.of(plan.base).resolve("config.json")
      require(Files.isRegularFile(config)) {
        "the plan's base ${plan.base} has no config.json; make the base first (or point " +
          "base at a checkpoint directory) to see what the plan adapts"
      }
      return of(plan, Architecture.of(ModelConfig.read(config)))
    }

    @JvmStatic
    fun of(plan: LoraPlan, architecture: Architecture): PlanSummary {
      val projections = architecture.projections().associateBy { it.name() }
      val specs = LoraTargets.fromPlan(plan, architecture.projections())
      ModelCompiler.validate(architecture, specs)
      val modules =
        specs.map { spec ->
          val p = projections.getValue(spec.module())
          val out = if (spec.sliced()) spec.slices().sumOf { p.slice(it).size() } else p.out()
          val parts = if (spec.sliced()) spec.slices().size else 1
          Module(
            spec.module(),
            p.layerIndex(),
            p.`in`(),
            p.out(),
            spec.rank(),
            spec.scale(),
            spec.slices(),
            spec.rank().toLong() * p.`in`() * parts + spec.rank().toLong() * out,
          )
        }
      return PlanSummary(architecture.config().modelType(), modules, architecture.parameterCount())
    }
  }
}
