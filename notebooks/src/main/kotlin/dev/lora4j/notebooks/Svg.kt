package dev.lora4j.notebooks

import java.util.Locale
import kotlin.math.abs
import kotlin.math.ceil
import kotlin.math.floor
import kotlin.math.log10
import kotlin.math.pow
import kotlin.math.roundToInt

/**
 * A minimal SVG writer: absolute coordinates in pixels, every number written with at most two
 * decimals, text escaped. Charts draw into it; nothing here knows about LoRA.
 */
internal class SvgCanvas(val width: Double, val height: Double) {
  private val body = StringBuilder()

  fun rect(
    x: Double,
    y: Double,
    w: Double,
    h: Double,
    fill: String,
    stroke: String? = null,
    tooltip: String? = null,
  ) {
    body.append("<rect x=\"${n(x)}\" y=\"${n(y)}\" width=\"${n(w)}\" height=\"${n(h)}\"")
    body.append(" fill=\"$fill\"")
    if (stroke != null) body.append(" stroke=\"$stroke\" stroke-width=\"0.5\"")
    if (tooltip == null) body.append("/>\n")
    else body.append("><title>").append(escape(tooltip)).append("</title></rect>\n")
  }

  fun line(
    x1: Double,
    y1: Double,
    x2: Double,
    y2: Double,
    stroke: String,
    width: Double = 1.0,
    dash: String? = null,
  ) {
    body.append("<line x1=\"${n(x1)}\" y1=\"${n(y1)}\" x2=\"${n(x2)}\" y2=\"${n(y2)}\"")
    body.append(" stroke=\"$stroke\" stroke-width=\"${n(width)}\"")
    if (dash != null) body.append(" stroke-dasharray=\"$dash\"")
    body.append("/>\n")
  }

  /** A line through the points; a NaN coordinate breaks it into pieces. */
  fun polyline(
    xs: DoubleArray,
    ys: DoubleArray,
    stroke: String,
    width: Double = 1.5,
    dash: String? = null,
  ) {
    var piece = StringBuilder()
    fun flush() {
      if (piece.isNotEmpty()) {
        body.append("<polyline fill=\"none\" stroke=\"$stroke\" stroke-width=\"${n(width)}\"")
        if (dash != null) body.append(" stroke-dasharray=\"$dash\"")
        body.append(" stroke-linejoin=\"round\" points=\"").append(piece.trim()).append("\"/>\n")
      }
      piece = StringBuilder()
    }
    for (i in xs.indices) {
      if (xs[i].isNaN() || ys[i].isNaN()) flush()
      else piece.append(n(xs[i])).append(',').append(n(ys[i])).append(' ')
    }
    flush()
  }

  fun circle(cx: Double, cy: Double, r: Double, fill: String, tooltip: String? = null) {
    body.append("<circle cx=\"${n(cx)}\" cy=\"${n(cy)}\" r=\"${n(r)}\" fill=\"$fill\"")
    if (tooltip == null) body.append("/>\n")
    else body.append("><title>").append(escape(tooltip)).append("</title></circle>\n")
  }

  fun text(
    x: Double,
    y: Double,
    s: String,
    size: Double = 11.0,
    anchor: String = "start",
    bold: Boolean = false,
    fill: String = INK,
    rotate: Boolean = false,
  ) {
    body.append("<text x=\"${n(x)}\" y=\"${n(y)}\" font-size=\"${n(size)}\"")
    if (anchor != "start") body.append(" text-anchor=\"$anchor\"")
    if (bold) body.append(" font-weight=\"bold\"")
    if (fill != INK) body.append(" fill=\"$fill\"")
    if (rotate) body.append(" transform=\"rotate(-90 ${n(x)} ${n(y)})\"")
    body.append('>').append(escape(s)).append("</text>\n")
  }

  /** Draws [block] with the origin moved to ([dx], [dy]). */
  fun translated(dx: Double, dy: Double, block: SvgCanvas.() -> Unit) {
    body.append("<g transform=\"translate(${n(dx)} ${n(dy)})\">\n")
    this.block()
    body.append("</g>\n")
  }

  fun render(): String =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"${n(width)}\" height=\"${n(height)}\"" +
      " viewBox=\"0 0 ${n(width)} ${n(height)}\"" +
      " font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n" +
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" +
      body +
      "</svg>\n"

  companion object {
    const val INK = "#222222"
    const val GRID = "#e6e6e6"
    const val AXIS = "#888888"

    fun escape(s: String): String =
      s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;")

    /** A coordinate: at most two decimals, no trailing zeros, no exponent. */
    fun n(v: Double): String {
      val r = (v * 100).roundToInt() / 100.0
      return if (r == floor(r)) r.toLong().toString() else r.toString()
    }
  }
}

/** Colors and number formatting shared by the charts. */
internal object Style {
  /** Line colors (Tableau 10), in order of use. */
  val PALETTE =
    listOf(
      "#4e79a7",
      "#f28e2b",
      "#59a14f",
      "#e15759",
      "#b07aa1",
      "#76b7b2",
      "#edc948",
      "#ff9da7",
      "#9c755f",
      "#bab0ac",
    )

  fun color(i: Int): String = PALETTE[i % PALETTE.size]

  /** Viridis at nine evenly spaced points; values between are interpolated. */
  private val VIRIDIS =
    listOf(
      "#440154",
      "#472c7a",
      "#3b518b",
      "#2c718e",
      "#21908d",
      "#27ad81",
      "#5cc863",
      "#aadc32",
      "#fde725",
    )

  /** Viridis at t in [0, 1] (clamped); light gray for NaN. */
  fun viridis(t: Double): String {
    if (t.isNaN()) return "#dddddd"
    val x = t.coerceIn(0.0, 1.0) * (VIRIDIS.size - 1)
    val i = floor(x).toInt().coerceAtMost(VIRIDIS.size - 2)
    val f = x - i
    val a = rgb(VIRIDIS[i])
    val b = rgb(VIRIDIS[i + 1])
    val mixed = IntArray(3) { k -> (a[k] + (b[k] - a[k]) * f).roundToInt() }
    return String.format(Locale.ROOT, "#%02x%02x%02x", mixed[0], mixed[1], mixed[2])
  }

  /** Whether text on viridis(t) should be dark (the bright, yellow end) rather than white. */
  fun darkTextOn(t: Double): Boolean = !t.isNaN() && t > 0.62

  private fun rgb(hex: String): IntArray =
    IntArray(3) { k -> hex.substring(1 + 2 * k, 3 + 2 * k).toInt(16) }

  /**
   * About [count] round tick values covering [min, max]: steps of 1, 2 or 5 times a power of 10.
   */
  fun ticks(min: Double, max: Double, count: Int = 5): List<Double> {
    if (!(max > min)) return listOf(min)
    val raw = (max - min) / count
    val magnitude = 10.0.pow(floor(log10(raw)))
    val step =
      listOf(1.0, 2.0, 5.0, 10.0).map { it * magnitude }.first { it >= raw * 0.999 }.toDouble()
    val first = ceil(min / step - 1e-9) * step
    val out = mutableListOf<Double>()
    var v = first
    while (v <= max + step * 1e-9) {
      out += if (abs(v) < step * 1e-9) 0.0 else v
      v += step
    }
    return out
  }

  /** A tick label with as many decimals as the tick spacing needs; tiny or huge in e-notation. */
  fun tickLabel(v: Double, step: Double): String {
    if (v == 0.0) return "0"
    val decimals = (-floor(log10(step))).toInt().coerceAtLeast(0)
    return when {
      abs(v) >= 1e5 || decimals > 4 -> String.format(Locale.ROOT, "%.0e", v)
      else -> String.format(Locale.ROOT, "%.${decimals}f", v)
    }
  }

  /** A value for tables and tooltips: 4 significant digits. */
  fun number(v: Double): String =
    when {
      v.isNaN() -> "NaN"
      v == 0.0 -> "0"
      abs(v) >= 1e5 || abs(v) < 1e-3 -> String.format(Locale.ROOT, "%.3e", v)
      else ->
        String.format(Locale.ROOT, "%.4g", v).let {
          if ('.' in it) it.trimEnd('0').trimEnd('.') else it
        }
    }

  /** A short axis label: 0.3, 2, 150, 1e-04. */
  fun compact(v: Double): String =
    when {
      v == 0.0 -> "0"
      abs(v) >= 1e5 || abs(v) < 1e-3 -> String.format(Locale.ROOT, "%.0e", v)
      else ->
        String.format(Locale.ROOT, "%.3g", v).let {
          if ('.' in it && 'e' !in it) it.trimEnd('0').trimEnd('.') else it
        }
    }

  fun grouped(v: Long): String = String.format(Locale.ROOT, "%,d", v)

  /** The width in pixels of [s] in DejaVu Sans at [size], near enough for layout. */
  fun textWidth(s: String, size: Double = 11.0): Double = s.length * size * 0.6
}
