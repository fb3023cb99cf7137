package dev.lora4j.script

import dev.lora4j.dsl.LoraPlan
import java.io.File
import java.nio.file.Path
import kotlin.script.experimental.annotations.KotlinScript
import kotlin.script.experimental.api.ResultValue
import kotlin.script.experimental.api.ResultWithDiagnostics
import kotlin.script.experimental.api.ScriptCompilationConfiguration
import kotlin.script.experimental.api.ScriptDiagnostic
import kotlin.script.experimental.api.defaultImports
import kotlin.script.experimental.api.valueOrNull
import kotlin.script.experimental.host.toScriptSource
import kotlin.script.experimental.jvm.dependenciesFromCurrentContext
import kotlin.script.experimental.jvm.jvm
import kotlin.script.experimental.jvmhost.BasicJvmScriptingHost
import kotlin.script.experimental.jvmhost.createJvmCompilationConfigurationFromTemplate

/**
 * A `*.lora.kts` script: Kotlin with the plan DSL imported, whose last expression is the plan.
 *
 * ```
 * lora(base = "runs/quickstart/base") {
 *   target("c_attn", slices = setOf(Slice.Q, Slice.V))
 *   training { maxSteps = 100 }
 *   data { train("samples/data/fortunes.txt.gz") }
 * }
 * ```
 */
@KotlinScript(
  displayName = "lora4j plan script",
  fileExtension = "lora.kts",
  compilationConfiguration = LoraScriptCompilation::class,
)
abstract class LoraPlanScript

/** The DSL is imported implicitly; the script sees the classpath of the JVM that runs it. */
object LoraScriptCompilation :
  ScriptCompilationConfiguration({
    defaultImports("dev.lora4j.dsl.*")
    jvm { dependenciesFromCurrentContext(wholeClasspath = true) }
  })

/** A script that does not compile or does not produce a plan; the message has file:line:column. */
class LoraScriptException(message: String) : IllegalArgumentException(message)

object LoraScripts {
  /** Compiles and runs a `.lora.kts` file and returns the plan it ends with. */
  @JvmStatic
  fun evalPlan(file: Path): LoraPlan {
    val f: File = file.toFile()
    if (!f.isFile) throw LoraScriptException("$file: no such script file")
    val compilation = createJvmCompilationConfigurationFromTemplate<LoraPlanScript>()
    val result = BasicJvmScriptingHost().eval(f.toScriptSource(), compilation, null)
    val errors =
      result.reports.filter {
        it.severity == ScriptDiagnostic.Severity.ERROR ||
          it.severity == ScriptDiagnostic.Severity.FATAL
      }
    if (errors.isNotEmpty() || result is ResultWithDiagnostics.Failure) {
      val lines =
        errors.map { d ->
          val at = d.location?.start
          val where = if (at != null) "$file:${at.line}:${at.col}" else "$file"
          val cause = d.exception?.let { e -> ": ${e.cause?.message ?: e.message}" } ?: ""
          "$where: ${d.message}$cause"
        }
      throw LoraScriptException(
        lines.ifEmpty { listOf("$file: the script failed") }.joinToString("\n")
      )
    }
    return when (val value = result.valueOrNull()?.returnValue) {
      is ResultValue.Value ->
        value.value as? LoraPlan
          ?: throw LoraScriptException(
            "$file: the script's last expression is a ${value.type}, not a plan; end it with lora(...) { ... }"
          )
      is ResultValue.Error -> throw LoraScriptException("$file: the script threw ${value.error}")
      else ->
        throw LoraScriptException(
          "$file: the script produced no value; end it with lora(...) { ... }"
        )
    }
  }
}
