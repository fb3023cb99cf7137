package dev.lora4j.notebooks

import kotlin.math.ceil
import kotlin.math.floor
import kotlin.math.log10
import kotlin.math.max
import kotlin.math.min
import kotlin.math.pow

/** One line (and/or dots) of a line chart. */
internal class Series(
  val label: String,
  val x: DoubleArray,
  val y: DoubleArray,
  val color: String,
  val line: Boolean = true,
  val dots: Boolean = false,
  /** An SVG stroke-dasharray such as "5 3", or null for a solid line. */
  val dash: String? = null,
)

/** The three generic charts every lora4j picture is made of: lines, heatmap, grouped bars. */
internal object Charts {
  private const val LEFT = 58.0
  private const val RIGHT = 12.0
  private const val TOP = 22.0
  private const val BOTTOM = 40.0

  /** Lines over a shared x axis; with [logY] the y axis is log10 (non-positive values dropped). */
  fun lines(
    title: String,
    xLabel: String,
    yLabel: String,
    series: List<Series>,
    width: Double = 380.0,
    height: Double = 250.0,
    logY: Boolean = false,
  ): Panel {
    val labelled = series.any { it.label.isNotEmpty() }
    // the legend sits right of the plot, never over the data
    val legendW = if (labelled) series.maxOf { Style.textWidth(it.label, 10.0) } + 30 else 0.0
    return Panel(width + legendW, height) { c ->
      val ys =
        series.map { s ->
          DoubleArray(s.y.size) { i ->
            val v = s.y[i]
            if (!v.isFinite() || (logY && v <= 0)) Double.NaN else if (logY) log10(v) else v
          }
        }
      val xs = series.flatMap { it.x.filter { v -> v.isFinite() } }
      val yAll = ys.flatMap { it.filter { v -> !v.isNaN() } }
      val plotW = width - LEFT - RIGHT
      val plotH = height - TOP - BOTTOM
      c.text(LEFT, 14.0, title, size = 12.0, bold = true)
      if (xs.isEmpty() || yAll.isEmpty()) {
        c.text(LEFT + plotW / 2, TOP + plotH / 2, "no data", anchor = "middle", fill = "#888888")
        return@Panel
      }
      val (x0, x1) = range(xs.min(), xs.max(), pad = 0.0)
      val (y0, y1) = range(yAll.min(), yAll.max(), pad = 0.06)
      fun px(v: Double) = LEFT + (v - x0) / (x1 - x0) * plotW
      fun py(v: Double) = TOP + plotH - (v - y0) / (y1 - y0) * plotH
      val integerX = xs.all { it == Math.rint(it) }
      axes(c, plotW, plotH, x0, x1, y0, y1, xLabel, yLabel, logY, integerX)
      series.forEachIndexed { k, s ->
        val sx = DoubleArray(s.x.size) { px(s.x[it]) }
        val sy = DoubleArray(s.y.size) { if (ys[k][it].isNaN()) Double.NaN else py(ys[k][it]) }
        if (s.line) c.polyline(sx, sy, s.color, dash = s.dash)
        if (s.dots) {
          for (i in sx.indices) {
            if (!sy[i].isNaN()) {
              c.circle(
                sx[i],
                sy[i],
                2.8,
                s.color,
                "${s.label}: ${Style.number(s.y[i])} at ${Style.number(s.x[i])}"
              )
            }
          }
        }
      }
      if (labelled)
        legend(c, LEFT + plotW + 10, TOP + 6, series.map { Triple(it.label, it.color, it.dash) })
    }
  }

  /**
   * A matrix as colored cells: rows top to bottom, columns left to right, colored by viridis over
   * [[lo], [hi]], with a color bar; values are written in the cells when they fit.
   */
  fun heatmap(
    title: String,
    values: Array<DoubleArray>,
    rowLabels: List<String>,
    colLabels: List<String>,
    xLabel: String,
    yLabel: String,
    lo: Double,
    hi: Double,
    colorLabel: String,
    maxWidth: Double = 420.0,
    maxHeight: Double = 300.0,
  ): Panel {
    val rows = values.size
    val cols = if (rows == 0) 0 else values[0].size
    val labelW = (rowLabels.maxOfOrNull { Style.textWidth(it, 10.0) } ?: 0.0) + 6
    val left = 18 + labelW
    val colLabelH =
      if (colLabels.any { it.length > 3 }) (colLabels.maxOf { it.length } * 6.0 + 6) else 16.0
    val cell =
      min(
          40.0,
          min(
            (maxWidth - left - 70) / max(cols, 1),
            (maxHeight - TOP - colLabelH - 18) / max(rows, 1)
          )
        )
        .coerceAtLeast(4.0)
    val width = maxOf(left + cell * cols + 70, left + Style.textWidth(title, 12.0) * 1.1 + 8)
    val height = TOP + cell * rows + colLabelH + 18
    val span = if (hi > lo) hi - lo else 1.0
    return Panel(width, height) { c ->
      c.text(left, 14.0, title, size = 12.0, bold = true)
      for (i in 0 until rows) {
        for (j in 0 until cols) {
          val v = values[i][j]
          val t = (v - lo) / span
          c.rect(
            left + j * cell,
            TOP + i * cell,
            cell,
            cell,
            Style.viridis(t),
            tooltip =
              "${rowLabels[i]}, ${colLabels[j]}: ${if (v.isNaN()) "none" else Style.number(v)}",
          )
          if (cell >= 26 && !v.isNaN()) {
            c.text(
              left + j * cell + cell / 2,
              TOP + i * cell + cell / 2 + 3.5,
              String.format(java.util.Locale.ROOT, if (abs(v) >= 100) "%.0f" else "%.2f", v),
              size = 9.0,
              anchor = "middle",
              fill = if (Style.darkTextOn(t)) "#222222" else "#ffffff",
            )
          }
        }
        c.text(left - 4, TOP + i * cell + cell / 2 + 3.5, rowLabels[i], size = 10.0, anchor = "end")
      }
      val every = maxOf(1, (cols * 9.0 / (cell * cols)).toInt() + if (cell < 9) 1 else 0)
      for (j in 0 until cols) {
        if (j % every != 0 && j != cols - 1) continue
        val x = left + j * cell + cell / 2
        if (colLabels[j].length > 3) {
          c.text(
            x + 3.5,
            TOP + rows * cell + 4,
            colLabels[j],
            size = 10.0,
            anchor = "end",
            rotate = true
          )
        } else {
          c.text(x, TOP + rows * cell + 13, colLabels[j], size = 10.0, anchor = "middle")
        }
      }
      c.text(left + cols * cell / 2, height - 4, xLabel, size = 11.0, anchor = "middle")
      c.text(12.0, TOP + rows * cell / 2, yLabel, size = 11.0, anchor = "middle", rotate = true)
      // color bar
      val bx = left + cols * cell + 12
      val bh = rows * cell
      val steps = 24
      for (k in 0 until steps) {
        val t = 1.0 - (k + 0.5) / steps
        c.rect(bx, TOP + k * bh / steps, 10.0, bh / steps + 0.3, Style.viridis(t))
      }
      c.text(bx + 14, TOP + 8, Style.number(hi), size = 9.0)
      c.text(bx + 14, TOP + bh, Style.number(lo), size = 9.0)
      c.text(bx + 46, TOP + bh / 2, colorLabel, size = 10.0, anchor = "middle", rotate = true)
    }
  }

  /** Bars per category, one bar per series side by side, with an optional dashed reference line. */
  fun bars(
    title: String,
    categories: List<String>,
    series: List<Pair<String, DoubleArray>>,
    yLabel: String,
    width: Double = 380.0,
    height: Double = 250.0,
    reference: Pair<String, Double>? = null,
  ): Panel {
    val entries =
      series.mapIndexed { k, s -> s.first to Style.color(k) } +
        listOfNotNull(reference?.let { it.first to "#555555" })
    // wide enough for the legend row
    val fullWidth = maxOf(width, 24 + entries.sumOf { Style.textWidth(it.first, 10.0) + 26 })
    return Panel(fullWidth, height) { c ->
      val plotW = fullWidth - LEFT - RIGHT
      val rotate = categories.any { Style.textWidth(it, 10.0) > plotW / categories.size - 4 }
      val bottom = if (rotate) 16.0 + categories.maxOf { Style.textWidth(it, 10.0) } else 24.0
      val legendH = 16.0
      val plotH = height - TOP - bottom - legendH
      c.text(LEFT, 14.0, title, size = 12.0, bold = true)
      legendRow(c, 24.0, 30.0, entries)
      val top =
        maxOf(
          series.maxOf { s -> s.second.filter { it.isFinite() }.maxOrNull() ?: 0.0 },
          reference?.second ?: 0.0,
        )
      val (_, y1) = range(0.0, if (top > 0) top else 1.0, pad = 0.05)
      fun py(v: Double) = TOP + plotH - v / y1 * plotH
      c.translated(0.0, legendH) {
        axes(this, plotW, plotH, null, null, 0.0, y1, null, yLabel, false, false)
        val groupW = plotW / categories.size
        val barW = groupW * 0.8 / series.size
        categories.forEachIndexed { i, name ->
          series.forEachIndexed { k, (label, v) ->
            if (v[i].isFinite()) {
              val x = LEFT + i * groupW + groupW * 0.1 + k * barW
              rect(
                x,
                py(v[i]),
                barW,
                TOP + plotH - py(v[i]),
                Style.color(k),
                tooltip = "$name $label: ${Style.number(v[i])}",
              )
            }
          }
          val cx = LEFT + i * groupW + groupW / 2
          if (rotate)
            text(cx + 3.5, TOP + plotH + 6, name, size = 10.0, anchor = "end", rotate = true)
          else text(cx, TOP + plotH + 14, name, size = 10.0, anchor = "middle")
        }
        if (reference != null) {
          val y = py(reference.second)
          line(LEFT, y, LEFT + plotW, y, "#555555", 1.0, "4 3")
        }
      }
    }
  }

  private fun axes(
    c: SvgCanvas,
    plotW: Double,
    plotH: Double,
    x0: Double?,
    x1: Double?,
    y0: Double,
    y1: Double,
    xLabel: String?,
    yLabel: String,
    logY: Boolean,
    integerX: Boolean,
  ) {
    val yTicks = if (logY) logTicks(y0, y1) else Style.ticks(y0, y1, 5)
    val yStep = if (yTicks.size > 1) yTicks[1] - yTicks[0] else 1.0
    for (t in yTicks) {
      val y = TOP + plotH - (t - y0) / (y1 - y0) * plotH
      c.line(LEFT, y, LEFT + plotW, y, SvgCanvas.GRID)
      val label = if (logY) Style.compact(10.0.pow(t)) else Style.tickLabel(t, yStep)
      c.text(LEFT - 4, y + 3.5, label, size = 10.0, anchor = "end")
    }
    if (x0 != null && x1 != null) {
      var xTicks = Style.ticks(x0, x1, 6)
      if (integerX) xTicks = xTicks.filter { it == Math.rint(it) }
      val xStep = if (xTicks.size > 1) xTicks[1] - xTicks[0] else 1.0
      for (t in xTicks) {
        val x = LEFT + (t - x0) / (x1 - x0) * plotW
        c.line(x, TOP + plotH, x, TOP + plotH + 4, SvgCanvas.AXIS)
        c.text(x, TOP + plotH + 15, Style.tickLabel(t, xStep), size = 10.0, anchor = "middle")
      }
    }
    c.line(LEFT, TOP + plotH, LEFT + plotW, TOP + plotH, SvgCanvas.AXIS)
    c.line(LEFT, TOP, LEFT, TOP + plotH, SvgCanvas.AXIS)
    if (xLabel != null)
      c.text(LEFT + plotW / 2, TOP + plotH + 32, xLabel, size = 11.0, anchor = "middle")
    c.text(14.0, TOP + plotH / 2, yLabel, size = 11.0, anchor = "middle", rotate = true)
  }

  /**
   * Tick positions (log10 values) in [lo, hi]: powers of ten, with 2× and 5× (or more) between them
   * when the range spans few decades.
   */
  private fun logTicks(lo: Double, hi: Double): List<Double> {
    val multipliers =
      when {
        hi - lo > 2.5 -> listOf(1.0)
        hi - lo > 0.8 -> listOf(1.0, 2.0, 5.0)
        else -> listOf(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
      }
    val out = mutableListOf<Double>()
    for (k in floor(lo).toInt()..ceil(hi).toInt()) {
      for (m in multipliers) {
        val t = k + log10(m)
        if (t >= lo && t <= hi) out += t
      }
    }
    return if (out.size >= 3) out
    else Style.ticks(10.0.pow(lo), 10.0.pow(hi), 4).filter { it > 0 }.map { log10(it) }
  }

  /** Legend entries one per line, from ([left], [top]). */
  private fun legend(
    c: SvgCanvas,
    left: Double,
    top: Double,
    entries: List<Triple<String, String, String?>>,
  ) {
    entries.forEachIndexed { i, (label, color, dash) ->
      val y = top + 9 + i * 14.0
      c.line(left, y - 3.5, left + 12, y - 3.5, color, 2.5, dash)
      c.text(left + 15, y, label, size = 10.0)
    }
  }

  /** Legend entries in one line starting at [left]. */
  private fun legendRow(
    c: SvgCanvas,
    left: Double,
    y: Double,
    entries: List<Pair<String, String>>
  ) {
    if (entries.size < 2 && entries.none { it.first.isNotEmpty() }) return
    var x = left
    for ((label, color) in entries) {
      c.line(x, y - 3.5, x + 12, y - 3.5, color, 2.5)
      c.text(x + 15, y, label, size = 10.0)
      x += Style.textWidth(label, 10.0) + 26
    }
  }

  /** [lo, hi] widened by [pad] of its span on each side; a single value gets a span of its own. */
  private fun range(lo: Double, hi: Double, pad: Double): Pair<Double, Double> {
    if (hi > lo) {
      val p = (hi - lo) * pad
      return (lo - p) to (hi + p)
    }
    val p = if (lo == 0.0) 1.0 else kotlin.math.abs(lo) * 0.1
    return (lo - p) to (hi + p)
  }

  private fun abs(v: Double) = kotlin.math.abs(v)
}
