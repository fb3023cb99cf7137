@file:JvmName("Plots")

package dev.lora4j.notebooks

import dev.lora4j.adapter.PeftAdapter
import dev.lora4j.analysis.Amplification
import dev.lora4j.analysis.ModuleSpectrum
import dev.lora4j.analysis.SubspaceSimilarity
import dev.lora4j.analysis.TrainingStatistics
import dev.lora4j.train.TrainingEvent
import dev.lora4j.train.TrainingReport

/**
 * Where a module sits: its block index (-1 if none) and its name inside the block, e.g.
 * `model.layers.3.self_attn.q_proj` is layer 3, `self_attn.q_proj`.
 */
internal data class ModuleName(val layer: Int, val kind: String) {
  companion object {
    private val LAYER = Regex("""^(.*?\.(?:h|layers|layer|blocks))\.(\d+)\.(.+)$""")

    fun of(module: String): ModuleName {
      val m = LAYER.find(module) ?: return ModuleName(-1, module)
      return ModuleName(m.groupValues[2].toInt(), m.groupValues[3])
    }

    /**
     * Labels short enough for axes: `3.q_proj`, or `3.mlp.c_proj` where the last part alone is
     * ambiguous (GPT-2's attn.c_proj and mlp.c_proj).
     */
    fun labels(modules: Collection<String>): Map<String, String> {
      val names = modules.associateWith { of(it) }
      val kinds = kindLabels(names.values.map { it.kind })
      return names.mapValues { (_, n) ->
        (if (n.layer >= 0) "${n.layer}." else "") + kinds.getValue(n.kind)
      }
    }

    /** The last part of each kind (`q_proj`) where that is unique among [kinds], else all of it. */
    fun kindLabels(kinds: Collection<String>): Map<String, String> {
      val distinct = kinds.distinct()
      val byLast = distinct.groupBy { it.substringAfterLast('.') }
      return distinct.associateWith { k ->
        val last = k.substringAfterLast('.')
        if (byLast.getValue(last).size == 1) last else k
      }
    }
  }
}

/** Training loss per update with validation points, and the learning rate, from a run's events. */
fun trainingCurves(events: List<TrainingEvent>, title: String = "training"): Figure {
  val steps = events.filterIsInstance<TrainingEvent.Step>()
  val evals = events.filterIsInstance<TrainingEvent.Evaluated>()
  val x = DoubleArray(steps.size) { steps[it].step().toDouble() }
  val loss =
    mutableListOf(Series("train", x, DoubleArray(steps.size) { steps[it].loss() }, Style.color(0)))
  if (evals.isNotEmpty()) {
    loss +=
      Series(
        "validation",
        DoubleArray(evals.size) { evals[it].step().toDouble() },
        DoubleArray(evals.size) { evals[it].validationLoss() },
        Style.color(1),
        dots = true,
      )
  }
  val lr = Series("", x, DoubleArray(steps.size) { steps[it].lr() }, Style.color(2))
  val last = steps.lastOrNull()
  val text =
    if (last == null) "$title: no steps"
    else
      "$title: ${steps.size} steps, loss ${Style.number(steps.first().loss())} -> ${Style.number(last.loss())}" +
        (evals.lastOrNull()?.let { ", validation ${Style.number(it.validationLoss())}" } ?: "")
  return Figure.of(
    title,
    listOf(
      Charts.lines("loss", "step", "cross-entropy", loss),
      Charts.lines("learning rate", "step", "lr", listOf(lr), width = 300.0),
    ),
    text,
  )
}

/** A finished run's training loss per update, with its validation evaluations as dots. */
fun lossCurve(report: TrainingReport, title: String = "training loss"): Figure {
  val losses = report.losses()
  val series =
    mutableListOf(
      Series(
        "train",
        DoubleArray(losses.size) { it + 1.0 },
        DoubleArray(losses.size) { losses[it] },
        Style.color(0),
      )
    )
  if (report.validation().isNotEmpty()) {
    series +=
      Series(
        "validation",
        DoubleArray(report.validation().size) { report.validation()[it][0] },
        DoubleArray(report.validation().size) { report.validation()[it][1] },
        Style.color(1),
        line = false,
        dots = true,
      )
  }
  val text =
    "$title: ${report.steps()} steps, final loss ${losses.lastOrNull()?.let { Style.number(it) } ?: "-"}" +
      (if (report.validation().isEmpty()) ""
      else ", validation ${Style.number(report.finalValidationLoss())}")
  return Figure.of(null, listOf(Charts.lines(title, "step", "cross-entropy", series)), text)
}

/**
 * ‖ΔW‖_F of every adapted module as a heatmap: one row per module kind (q_proj, v_proj, ...), one
 * column per layer. Shows where in the network an adapter changed the weights most.
 */
fun normHeatmap(spectra: Map<String, ModuleSpectrum>, title: String = "‖ΔW‖_F per layer"): Figure =
  Figure.of(null, listOf(normPanel(spectra, title)), normText(spectra))

fun normHeatmap(adapter: PeftAdapter): Figure = normHeatmap(ModuleSpectrum.of(adapter))

private fun normPanel(spectra: Map<String, ModuleSpectrum>, title: String): Panel {
  val names = spectra.keys.associateWith { ModuleName.of(it) }
  val kinds = names.values.map { it.kind }.distinct()
  val layers = names.values.map { it.layer }.distinct().sorted()
  val values = Array(kinds.size) { DoubleArray(layers.size) { Double.NaN } }
  for ((module, s) in spectra) {
    val n = names.getValue(module)
    values[kinds.indexOf(n.kind)][layers.indexOf(n.layer)] = s.frobenius()
  }
  val hi = spectra.values.maxOfOrNull { it.frobenius() } ?: 1.0
  return Charts.heatmap(
    title,
    values,
    kinds.map { ModuleName.kindLabels(kinds).getValue(it) },
    layers.map { if (it < 0) "-" else it.toString() },
    "layer",
    "module",
    0.0,
    if (hi > 0) hi else 1.0,
    "‖ΔW‖_F",
  )
}

private fun normText(spectra: Map<String, ModuleSpectrum>): String {
  val labels = ModuleName.labels(spectra.keys)
  return "‖ΔW‖_F: " +
    spectra.entries.joinToString(", ") { (m, s) ->
      "${labels.getValue(m)} ${Style.number(s.frobenius())}"
    }
}

/**
 * The singular values of every module's ΔW = scale·B·A, largest first, on a log scale: a fast drop
 * after the first few means the update uses fewer directions than its rank allows.
 */
fun spectra(spectra: Map<String, ModuleSpectrum>, title: String = "singular values of ΔW"): Figure =
  Figure.of(null, listOf(spectraPanel(spectra, title)), spectraText(spectra))

fun spectra(adapter: PeftAdapter): Figure = spectra(ModuleSpectrum.of(adapter))

private fun spectraPanel(spectra: Map<String, ModuleSpectrum>, title: String): Panel {
  val labels = ModuleName.labels(spectra.keys)
  val series =
    spectra.entries.mapIndexed { k, (module, s) ->
      val sv = s.singularValues()
      Series(
        labels.getValue(module),
        DoubleArray(sv.size) { it + 1.0 },
        sv,
        Style.color(k),
        dots = true,
        // past ten modules the colors repeat; dashes keep the lines apart
        dash = if (k >= Style.PALETTE.size) "5 3" else null,
      )
    }
  return Charts.lines(title, "index i", "σ_i", series, logY = true)
}

private fun spectraText(spectra: Map<String, ModuleSpectrum>): String {
  val labels = ModuleName.labels(spectra.keys)
  return "effective rank (entropy): " +
    spectra.entries.joinToString(", ") { (m, s) ->
      "${labels.getValue(m)} ${Style.number(s.entropyRank())} of ${s.rank()}"
    }
}

/**
 * Two effective ranks per module next to its rank r: the entropy rank (exp of the entropy of the
 * normalized singular values) and the energy rank (how many σ hold 90% of Σσ²).
 */
fun effectiveRanks(
  spectra: Map<String, ModuleSpectrum>,
  title: String = "effective rank of ΔW"
): Figure {
  val modules = spectra.keys.toList()
  val ranks = spectra.values.map { it.rank() }.distinct()
  val panel =
    Charts.bars(
      title,
      modules.map { ModuleName.labels(modules).getValue(it) },
      listOf(
        "entropy rank" to DoubleArray(modules.size) { spectra.getValue(modules[it]).entropyRank() },
        "90% energy rank" to
          DoubleArray(modules.size) { spectra.getValue(modules[it]).energyRank().toDouble() },
      ),
      "rank",
      width = maxOf(300.0, 80.0 + modules.size * 44.0),
      reference = if (ranks.size == 1) "r = ${ranks[0]}" to ranks[0].toDouble() else null,
    )
  return Figure.of(null, listOf(panel), spectraText(spectra))
}

/** The per-layer norm heatmap and the spectra of some modules' updates, side by side. */
fun spectraOverview(spectra: Map<String, ModuleSpectrum>, title: String? = null): Figure =
  Figure.of(
    title,
    listOf(normPanel(spectra, "‖ΔW‖_F per layer"), spectraPanel(spectra, "singular values of ΔW")),
    normText(spectra) + "\n" + spectraText(spectra),
  )

/** [spectraOverview] of an adapter, titled with its directory, rank and alpha. */
fun adapterOverview(adapter: PeftAdapter, title: String? = null): Figure {
  val c = adapter.config()
  val spectra = ModuleSpectrum.of(adapter)
  return spectraOverview(
    spectra,
    title
      ?: "adapter ${adapter.dir().parent?.fileName?.let { "$it/" } ?: ""}${adapter.dir().fileName}: rank ${c.r}, alpha ${Style.number(c.loraAlpha)}, ${spectra.size} modules",
  )
}

/**
 * The LoRA paper's Figure 3 for one module: φ(A, A′, i, j) = ‖U_iᵀU′_j‖²_F / min(i, j), how much
 * the top-i input directions of one adapter overlap the top-j of the other (1 = one contains the
 * other, near 0 = unrelated).
 */
fun phiHeatmap(
  similarity: SubspaceSimilarity,
  first: String = "rank ${similarity.rankA()}",
  second: String = "rank ${similarity.rankB()}",
): Figure =
  Figure.of(
    null,
    listOf(phiPanel(similarity, first, second, ModuleName.labels(listOf(similarity.module())))),
    phiText(listOf(similarity)),
  )

/** [phiHeatmap] for several modules side by side, e.g. q_proj and v_proj of one layer. */
fun phiHeatmaps(
  similarities: Collection<SubspaceSimilarity>,
  first: String,
  second: String,
  title: String? = null,
): Figure {
  val labels = ModuleName.labels(similarities.map { it.module() })
  return Figure.of(
    title,
    similarities.map { phiPanel(it, first, second, labels) },
    phiText(similarities),
  )
}

private fun phiPanel(
  s: SubspaceSimilarity,
  first: String,
  second: String,
  labels: Map<String, String>,
): Panel =
  Charts.heatmap(
    labels.getValue(s.module()),
    s.phi(),
    (1..s.rankA()).map { it.toString() },
    (1..s.rankB()).map { it.toString() },
    "j ($second)",
    "i ($first)",
    0.0,
    1.0,
    "φ",
    maxWidth = 70.0 + s.rankB() * 22.0 + 80,
  )

private fun phiText(similarities: Collection<SubspaceSimilarity>): String {
  val labels = ModuleName.labels(similarities.map { it.module() })
  return "mean φ(k, k) (random subspaces in brackets): " +
    similarities.joinToString(", ") {
      "${labels.getValue(it.module())} ${Style.number(it.summary())}" +
        " (${Style.number(it.randomBaseline())})"
    }
}

/** The φ summary of every compared module as a layer × module-kind heatmap. */
fun similarityOverview(
  similarities: Map<String, SubspaceSimilarity>,
  title: String = "mean φ(k, k) per layer"
): Figure {
  val names = similarities.keys.associateWith { ModuleName.of(it) }
  val kinds = names.values.map { it.kind }.distinct()
  val layers = names.values.map { it.layer }.distinct().sorted()
  val values = Array(kinds.size) { DoubleArray(layers.size) { Double.NaN } }
  for ((module, s) in similarities) {
    val n = names.getValue(module)
    values[kinds.indexOf(n.kind)][layers.indexOf(n.layer)] = s.summary()
  }
  val panel =
    Charts.heatmap(
      title,
      values,
      kinds.map { ModuleName.kindLabels(kinds).getValue(it) },
      layers.map { it.toString() },
      "layer",
      "module",
      0.0,
      1.0,
      "φ",
    )
  return Figure.of(null, listOf(panel), phiText(similarities.values))
}

/**
 * The LoRA paper's Table 7 for one or more adapters (a column group each, by name): per module
 * ‖ΔW‖_F, ‖UᵀWV‖_F (the base weight in ΔW's own top-r directions) and their ratio, the
 * amplification factor.
 */
fun amplificationTable(vararg adapters: Pair<String, Map<String, Amplification>>): Table {
  val modules = adapters.flatMap { it.second.keys }.distinct()
  val columns = mutableListOf("module")
  for ((name, _) in adapters) {
    val prefix = if (name.isEmpty()) "" else "$name "
    columns += listOf("$prefix‖ΔW‖_F", "$prefix‖UᵀWV‖_F", "${prefix}factor")
  }
  val rows =
    modules.map { m ->
      val row = mutableListOf(m)
      for ((_, a) in adapters) {
        val v = a[m]
        row +=
          if (v == null) listOf("-", "-", "-")
          else
            listOf(
              Style.number(v.deltaFrobenius()),
              Style.number(v.projectedFrobenius()),
              Style.number(v.ratio()),
            )
      }
      row
    }
  return Table(columns, rows, "amplification factor ‖ΔW‖_F / ‖UᵀWV‖_F")
}

fun amplificationTable(amplification: Map<String, Amplification>): Table =
  amplificationTable("" to amplification)

/** ‖ΔW‖_F of every module at every saved checkpoint of a run. */
fun normsOverTraining(stats: TrainingStatistics, title: String = "‖ΔW‖_F during training"): Figure {
  val x = stats.stepNumbers().map { it.toDouble() }.toDoubleArray()
  val labels = ModuleName.labels(stats.modules())
  val series =
    stats.modules().mapIndexed { k, m ->
      Series(
        labels.getValue(m),
        x,
        stats.series(m) { it.frobenius() },
        Style.color(k),
        dots = true,
        dash = if (k >= Style.PALETTE.size) "5 3" else null,
      )
    }
  return Figure.of(
    null,
    listOf(Charts.lines(title, "step", "‖ΔW‖_F", series)),
    "$title: ${stats.steps().size} checkpoints, ${stats.modules().size} modules",
  )
}

/**
 * Grouped bars: a group per category, a bar per series; e.g. the validation loss of each adapter
 * (categories) on each data set (series).
 */
fun barChart(
  title: String,
  categories: List<String>,
  series: Map<String, DoubleArray>,
  yLabel: String,
): Figure {
  require(series.values.all { it.size == categories.size }) {
    "every series needs one value per category (${categories.size}), got sizes " +
      series.mapValues { it.value.size }
  }
  val panel =
    Charts.bars(
      title,
      categories,
      series.entries.map { it.key to it.value },
      yLabel,
      width = maxOf(340.0, 90.0 + categories.size * series.size * 26.0),
    )
  val text =
    "$title: " +
      categories.indices.joinToString("; ") { i ->
        categories[i] +
          " " +
          series.entries.joinToString(", ") { (k, v) -> "$k ${Style.number(v[i])}" }
      }
  return Figure.of(null, listOf(panel), text)
}
