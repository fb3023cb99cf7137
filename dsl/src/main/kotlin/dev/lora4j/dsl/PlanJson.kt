package dev.lora4j.dsl

import kotlinx.serialization.ExperimentalSerializationApi
import kotlinx.serialization.KSerializer
import kotlinx.serialization.Serializable
import kotlinx.serialization.SerializationException
import kotlinx.serialization.builtins.ListSerializer
import kotlinx.serialization.descriptors.SerialDescriptor
import kotlinx.serialization.encoding.Decoder
import kotlinx.serialization.encoding.Encoder
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonEncoder
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.encodeToJsonElement
import kotlinx.serialization.json.put

/**
 * The JSON form of a plan. Strict: an unknown field or a wrong type is an error that names its JSON
 * path. Every field is written, defaults included, so a saved plan does not change meaning when a
 * default does. Sealed types carry a `"type"` field (`"adamw"`, `"cosine"`, ...); a target is an
 * object with exactly one of `"suffix"`, `"regex"` (the pattern as a string) or `"allLinear":
 * true`, plus only the overrides it sets.
 */
@OptIn(ExperimentalSerializationApi::class)
internal object PlanJson {
  val json: Json = Json {
    prettyPrint = true
    encodeDefaults = true
    classDiscriminator = "type"
  }

  /** Sealed and enum types by simple name, for listing the names a message could have used. */
  private val namedTypes: Map<String, List<String>> =
    listOf(
        Optimizer.serializer().descriptor,
        Schedule.serializer().descriptor,
        Warmup.serializer().descriptor,
        DataFormat.serializer().descriptor,
      )
      .associate { it.serialName.substringAfterLast('.') to subclassNames(it) } +
      listOf(
          LoraInit.serializer().descriptor,
          Slice.serializer().descriptor,
          Precision.serializer().descriptor,
          Quantization.serializer().descriptor,
        )
        .associate { d ->
          d.serialName.substringAfterLast('.') to (0 until d.elementsCount).map(d::getElementName)
        }

  private val unknownSubclass =
    Regex(
      """Serializer for subclass '([^']*)' is not found in the polymorphic scope of '([^']*)'"""
    )
  private val unknownEnumValue = Regex("""(\S+) does not contain element with name '([^']*)'""")
  private val path = Regex("""at path:? (\$\S*)""")

  /**
   * kotlinx.serialization's message made for plan authors: the JSON path stays, the hints meant for
   * the programmer who set up the `Json` (ignoreUnknownKeys, SerializersModule) go, and an unknown
   * `"type"` or enum value lists the known ones.
   */
  fun explain(e: SerializationException): String {
    val message = e.message ?: e.toString()
    val lines = message.lines().filterNot { it.startsWith("Use 'ignoreUnknownKeys") }
    val at = path.find(message)?.groupValues?.get(1)?.let { " at path: $it" } ?: ""
    unknownSubclass.find(lines.first())?.let { m ->
      val (value, type) = m.destructured
      return unknownName("type", value, type, at)
    }
    unknownEnumValue.find(lines.first())?.let { m ->
      val (type, value) = m.destructured
      return unknownName("value", value, type, at)
    }
    return lines.joinToString("\n")
  }

  private fun unknownName(what: String, value: String, type: String, at: String): String {
    val simple = type.substringAfterLast('.')
    val known = namedTypes[simple]?.joinToString(", ")
    return "unknown $what \"$value\" for $simple$at" + (known?.let { "; known: $it" } ?: "")
  }

  private fun subclassNames(sealed: SerialDescriptor): List<String> {
    val value = sealed.getElementDescriptor(1)
    return (0 until value.elementsCount).map { value.getElementName(it) }
  }
}

/** The JSON shape of one target rule, read field by field so that kotlinx reports paths. */
@Serializable
internal class TargetRuleJson(
  val suffix: String? = null,
  val regex: String? = null,
  val allLinear: Boolean = false,
  val slices: Set<Slice> = emptySet(),
  val layers: Set<Int> = emptySet(),
  val exclude: List<String> = emptyList(),
  val rank: Int? = null,
  val alpha: Double? = null,
  val dropout: Double? = null,
  val init: LoraInit? = null,
)

/** One target rule as a [TargetRuleJson]-shaped object. */
internal object TargetRuleSerializer : KSerializer<TargetRule> {
  override val descriptor: SerialDescriptor = TargetRuleJson.serializer().descriptor

  override fun deserialize(decoder: Decoder): TargetRule =
    fromJson(decoder.decodeSerializableValue(TargetRuleJson.serializer()), "")

  override fun serialize(encoder: Encoder, value: TargetRule) {
    val json = encoder as JsonEncoder
    json.encodeJsonElement(toJson(json.json, value))
  }

  /** The rule [t] describes; [path] names it in the error for a missing or doubled selector. */
  fun fromJson(t: TargetRuleJson, path: String): TargetRule {
    val selectors =
      listOfNotNull(
        t.suffix?.let { TargetSelector.Suffix(it) },
        t.regex?.let { TargetSelector.Pattern(it) },
        if (t.allLinear) TargetSelector.AllLinear else null,
      )
    if (selectors.size != 1) {
      throw SerializationException(
        "a target needs exactly one of \"suffix\", \"regex\" or \"allLinear\": true, " +
          "found ${selectors.size}" +
          (if (path.isEmpty()) "" else " at path: $path")
      )
    }
    return TargetRule(
      selectors[0],
      t.slices,
      t.layers,
      t.exclude,
      t.rank,
      t.alpha,
      t.dropout,
      t.init,
    )
  }

  /** The rule as an object with its selector and only the overrides it sets. */
  fun toJson(json: Json, rule: TargetRule): JsonObject = buildJsonObject {
    when (val s = rule.select) {
      is TargetSelector.Suffix -> put("suffix", s.name)
      is TargetSelector.Pattern -> put("regex", s.regex)
      TargetSelector.AllLinear -> put("allLinear", true)
    }
    if (rule.slices.isNotEmpty()) put("slices", json.encodeToJsonElement(rule.slices))
    if (rule.layers.isNotEmpty()) put("layers", json.encodeToJsonElement(rule.layers))
    if (rule.exclude.isNotEmpty()) put("exclude", JsonArray(rule.exclude.map { JsonPrimitive(it) }))
    rule.rank?.let { put("rank", it) }
    rule.alpha?.let { put("alpha", it) }
    rule.dropout?.let { put("dropout", it) }
    rule.init?.let { put("init", json.encodeToJsonElement(it)) }
  }
}

/** `targets` as a JSON array of target objects; a bad one is named by its index. */
internal object TargetListSerializer : KSerializer<List<TargetRule>> {
  private val surrogate = ListSerializer(TargetRuleJson.serializer())

  override val descriptor: SerialDescriptor = surrogate.descriptor

  override fun deserialize(decoder: Decoder): List<TargetRule> =
    decoder.decodeSerializableValue(surrogate).mapIndexed { i, t ->
      TargetRuleSerializer.fromJson(t, "\$.targets[$i]")
    }

  override fun serialize(encoder: Encoder, value: List<TargetRule>) {
    val json = encoder as JsonEncoder
    json.encodeJsonElement(JsonArray(value.map { TargetRuleSerializer.toJson(json.json, it) }))
  }
}
