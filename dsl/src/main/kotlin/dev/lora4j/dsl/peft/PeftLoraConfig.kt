package dev.lora4j.dsl.peft

import kotlin.math.sqrt
import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import kotlinx.serialization.SerializationException
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.int

/**
 * PEFT's `adapter_config.json` for LoRA, field for field. Unknown fields are ignored on read (PEFT
 * adds fields between versions); every field PEFT needs to load the adapter is written.
 */
@Serializable
data class PeftLoraConfig(
  @SerialName("peft_type") val peftType: String = "LORA",
  @SerialName("task_type") val taskType: String? = "CAUSAL_LM",
  @SerialName("base_model_name_or_path") val baseModelNameOrPath: String? = null,
  val r: Int = 8,
  @SerialName("lora_alpha") val loraAlpha: Double = 8.0,
  @SerialName("lora_dropout") val loraDropout: Double = 0.0,
  @SerialName("target_modules") val targetModules: TargetModules? = null,
  @SerialName("exclude_modules") val excludeModules: TargetModules? = null,
  /** True for GPT-2's Conv1D, whose weight is stored [in, out]. */
  @SerialName("fan_in_fan_out") val fanInFanOut: Boolean = false,
  val bias: String = "none",
  @SerialName("use_rslora") val useRslora: Boolean = false,
  @SerialName("use_dora") val useDora: Boolean = false,
  /** `true` (kaiming-uniform A, zero B), `"gaussian"`, or another PEFT init name. */
  @SerialName("init_lora_weights") val initLoraWeights: JsonElement = JsonPrimitive(true),
  @SerialName("modules_to_save") val modulesToSave: List<String>? = null,
  /** Regex keys tried in order; the first matching key gives the module's rank. */
  @SerialName("rank_pattern") val rankPattern: Map<String, Int> = emptyMap(),
  /** Regex keys tried in order; the first matching key gives the module's alpha. */
  @SerialName("alpha_pattern") val alphaPattern: Map<String, Double> = emptyMap(),
  /** A layer index or a list of them; null adapts every layer. */
  @SerialName("layers_to_transform") val layersToTransform: JsonElement? = null,
  @SerialName("layers_pattern") val layersPattern: JsonElement? = null,
  @SerialName("inference_mode") val inferenceMode: Boolean = true,
) {
  /** True if PEFT would put an adapter on the module at [path]. */
  fun selects(path: String): Boolean {
    val targets = targetModules ?: return false
    if (!targets.matches(path)) return false
    if (excludeModules?.matches(path) == true) return false
    return layerSelected(path)
  }

  /** The rank of the adapter on [path]: the first matching `rank_pattern` key, else [r]. */
  fun rankFor(path: String): Int = firstPatternValue(rankPattern, path) ?: r

  /**
   * The alpha of the adapter on [path]: the first matching `alpha_pattern` key, else [loraAlpha].
   */
  fun alphaFor(path: String): Double = firstPatternValue(alphaPattern, path) ?: loraAlpha

  /** The factor on `B·A`: alpha / r, or alpha / sqrt(r) with rsLoRA. */
  fun scaleFor(path: String): Double {
    val rank = rankFor(path)
    val alpha = alphaFor(path)
    return if (useRslora) alpha / sqrt(rank.toDouble()) else alpha / rank
  }

  /** The init named by `init_lora_weights`: "default" for `true`, "zeros" for `false`. */
  fun initName(): String {
    val init = initLoraWeights
    if (init is JsonPrimitive) {
      if (init.isString) return init.content
      if (init.content == "true") return "default"
      if (init.content == "false") return "zeros"
    }
    return init.toString()
  }

  fun toJson(): String = JSON.encodeToString(serializer(), this)

  private fun layerSelected(path: String): Boolean {
    val wanted = layerIndices() ?: return true
    val patterns = layerPatternNames()
    for (pattern in patterns) {
      val match = Regex(".*\\.${Regex.escape(pattern)}\\.(\\d+)\\..*").find(path) ?: continue
      return match.groupValues[1].toInt() in wanted
    }
    return false
  }

  private fun layerIndices(): Set<Int>? =
    when (val layers = layersToTransform) {
      null -> null
      is JsonArray -> layers.map { (it as JsonPrimitive).int }.toSet()
      is JsonPrimitive -> if (layers.content == "null") null else setOf(layers.int)
      else -> null
    }

  private fun layerPatternNames(): List<String> =
    when (val pattern = layersPattern) {
      is JsonArray -> pattern.map { (it as JsonPrimitive).content }
      is JsonPrimitive -> if (pattern.isString) listOf(pattern.content) else DEFAULT_LAYER_PATTERNS
      else -> DEFAULT_LAYER_PATTERNS
    }

  companion object {
    private val DEFAULT_LAYER_PATTERNS = listOf("layers", "h", "blocks", "layer")

    /** Lenient on unknown fields (PEFT versions differ), strict on types. */
    val JSON: Json = Json {
      ignoreUnknownKeys = true
      encodeDefaults = true
      prettyPrint = true
    }

    /**
     * Parses `adapter_config.json` text; [source] names the file in error messages.
     *
     * @throws PeftConfigException naming the source, the field and the problem
     */
    @JvmStatic
    fun fromJson(text: String, source: String): PeftLoraConfig {
      val config =
        try {
          JSON.decodeFromString(serializer(), text)
        } catch (e: SerializationException) {
          throw PeftConfigException("$source: not a valid PEFT adapter config: ${e.message}", e)
        } catch (e: IllegalArgumentException) {
          throw PeftConfigException("$source: not a valid PEFT adapter config: ${e.message}", e)
        }
      config.validate(source)
      return config
    }

    /** PEFT's per-module override rule: key k matches path p if `re.match("(.*\.)?(k)$", p)`. */
    @JvmStatic
    fun <T> firstPatternValue(patterns: Map<String, T>, path: String): T? {
      for ((key, value) in patterns) {
        if (Regex("(.*\\.)?($key)").matches(path)) return value
      }
      return null
    }
  }

  private fun validate(source: String) {
    if (peftType != "LORA") {
      throw PeftConfigException(
        "$source: peft_type is \"$peftType\"; lora4j reads LoRA adapters only (peft_type \"LORA\")"
      )
    }
    if (r < 1) throw PeftConfigException("$source: r must be at least 1, was $r")
    for ((key, rank) in rankPattern) {
      if (rank < 1) {
        throw PeftConfigException("$source: rank_pattern[\"$key\"] must be at least 1, was $rank")
      }
    }
    if (targetModules == null) {
      throw PeftConfigException(
        "$source: target_modules is missing; name the adapted modules, e.g. [\"q_proj\", \"v_proj\"]"
      )
    }
  }
}

/** A PEFT adapter config that cannot be read or is not supported; the message names the file. */
class PeftConfigException @JvmOverloads constructor(message: String, cause: Throwable? = null) :
  IllegalArgumentException(message, cause)
