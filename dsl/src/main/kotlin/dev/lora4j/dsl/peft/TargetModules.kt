package dev.lora4j.dsl.peft

import kotlinx.serialization.KSerializer
import kotlinx.serialization.Serializable
import kotlinx.serialization.SerializationException
import kotlinx.serialization.descriptors.SerialDescriptor
import kotlinx.serialization.encoding.Decoder
import kotlinx.serialization.encoding.Encoder
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonDecoder
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonEncoder
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.jsonPrimitive

/**
 * PEFT's `target_modules`: which modules get an adapter. A list matches a module path that equals
 * an entry or ends with `"." + entry`; a string is a regex that must match the whole path;
 * `"all-linear"` matches every linear projection except the output head.
 */
@Serializable(with = TargetModulesSerializer::class)
sealed class TargetModules {
  /** True if this selector picks the module at [path]. */
  abstract fun matches(path: String): Boolean

  /** Exact names or dotted suffixes, e.g. `["c_attn", "mlp.c_proj"]`. */
  data class Names(val names: List<String>) : TargetModules() {
    override fun matches(path: String): Boolean = names.any { path == it || path.endsWith(".$it") }

    override fun toString(): String = names.joinToString(prefix = "[", postfix = "]")
  }

  /** A regex matched against the whole module path (Python's `re.fullmatch`). */
  data class Pattern(val regex: String) : TargetModules() {
    private val compiled: Regex by lazy { Regex(regex) }

    override fun matches(path: String): Boolean = compiled.matches(path)

    override fun toString(): String = "\"$regex\""
  }

  /** Every projection the architecture exposes; the output head is never one of them. */
  object AllLinear : TargetModules() {
    const val NAME: String = "all-linear"

    override fun matches(path: String): Boolean = true

    override fun toString(): String = NAME
  }

  companion object {
    @JvmStatic fun names(vararg names: String): TargetModules = Names(names.toList())

    @JvmStatic fun names(names: List<String>): TargetModules = Names(names)

    @JvmStatic
    fun pattern(regex: String): TargetModules =
      if (regex == AllLinear.NAME) AllLinear else Pattern(regex)
  }
}

internal object TargetModulesSerializer : KSerializer<TargetModules> {
  override val descriptor: SerialDescriptor = JsonElement.serializer().descriptor

  override fun deserialize(decoder: Decoder): TargetModules {
    val json =
      (decoder as? JsonDecoder)
        ?: throw SerializationException("target_modules can only be read from JSON")
    return when (val element = json.decodeJsonElement()) {
      is JsonArray -> TargetModules.Names(element.map { it.jsonPrimitive.content })
      is JsonPrimitive ->
        if (element.isString) TargetModules.pattern(element.content)
        else
          throw SerializationException(
            "target_modules must be a list of module names or a regex string, was $element"
          )
      else ->
        throw SerializationException(
          "target_modules must be a list of module names or a regex string, was $element"
        )
    }
  }

  override fun serialize(encoder: Encoder, value: TargetModules) {
    val json = encoder as JsonEncoder
    val element: JsonElement =
      when (value) {
        is TargetModules.Names -> JsonArray(value.names.map { JsonPrimitive(it) })
        is TargetModules.Pattern -> JsonPrimitive(value.regex)
        TargetModules.AllLinear -> JsonPrimitive(TargetModules.AllLinear.NAME)
      }
    json.encodeJsonElement(element)
  }
}
