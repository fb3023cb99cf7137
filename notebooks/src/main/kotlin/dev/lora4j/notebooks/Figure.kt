package dev.lora4j.notebooks

import java.nio.file.Files
import java.nio.file.Path
import java.util.Base64

/**
 * A picture as SVG text, with a plain-text summary for consoles. In a notebook it displays as
 * `image/svg+xml`, which is stored in the .ipynb and needs no JavaScript or network to draw.
 */
class Figure(val svg: String, val text: String) {
  /** Writes the SVG to [path] and returns it. */
  fun save(path: Path): Path {
    path.toAbsolutePath().parent?.let { Files.createDirectories(it) }
    return Files.writeString(path, svg)
  }

  /** An `<img>` tag holding the SVG as a data URI, for embedding in HTML output. */
  fun imgTag(): String =
    "<img src=\"data:image/svg+xml;base64," +
      Base64.getEncoder().encodeToString(svg.toByteArray()) +
      "\" alt=\"" +
      SvgCanvas.escape(text) +
      "\"/>"

  override fun toString(): String = text

  companion object {
    /**
     * Panels side by side under a title; each panel draws itself in its own coordinates.
     *
     * @param text the plain-text stand-in for the picture
     */
    internal fun of(title: String?, panels: List<Panel>, text: String): Figure {
      val gap = 24.0
      val top = if (title == null) 8.0 else 30.0
      val width = panels.sumOf { it.width } + gap * (panels.size - 1) + 16
      val height = top + panels.maxOf { it.height } + 8
      val canvas = SvgCanvas(width, height)
      if (title != null) canvas.text(8.0, 20.0, title, size = 14.0, bold = true)
      var x = 8.0
      for (p in panels) {
        canvas.translated(x, top) { p.draw(this) }
        x += p.width + gap
      }
      return Figure(canvas.render(), text)
    }
  }
}

/** A chart of a fixed size that draws itself with its top-left corner at (0, 0). */
internal class Panel(val width: Double, val height: Double, val draw: (SvgCanvas) -> Unit)

/** A table as HTML (for notebooks) and as aligned text (for consoles). */
class Table(val columns: List<String>, val rows: List<List<String>>, val caption: String? = null) {
  fun html(): String = buildString {
    append("<table style=\"border-collapse:collapse;font-size:12px\">")
    if (caption != null) {
      append("<caption style=\"text-align:left;font-weight:bold;padding:4px 0\">")
      append(SvgCanvas.escape(caption)).append("</caption>")
    }
    append("<thead><tr>")
    for (c in columns) {
      append("<th style=\"text-align:right;padding:2px 8px;border-bottom:1px solid #888\">")
      append(SvgCanvas.escape(c)).append("</th>")
    }
    append("</tr></thead><tbody>")
    for (r in rows) {
      append("<tr>")
      for (v in r) {
        append("<td style=\"text-align:right;padding:2px 8px;font-family:monospace\">")
        append(SvgCanvas.escape(v)).append("</td>")
      }
      append("</tr>")
    }
    append("</tbody></table>")
  }

  fun text(): String {
    val widths =
      columns.indices.map { i -> maxOf(columns[i].length, rows.maxOfOrNull { it[i].length } ?: 0) }
    fun line(cells: List<String>) =
      cells.indices.joinToString("  ") { i ->
        if (i == 0) cells[i].padEnd(widths[i]) else cells[i].padStart(widths[i])
      }
    return buildString {
      if (caption != null) append(caption).append('\n')
      append(line(columns).trimEnd()).append('\n')
      for (r in rows) append(line(r).trimEnd()).append('\n')
    }
  }

  override fun toString(): String = text()
}
