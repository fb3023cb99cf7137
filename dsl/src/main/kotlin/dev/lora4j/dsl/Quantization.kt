package dev.lora4j.dsl

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable

/** How the frozen base weights are stored while training (QLoRA's trick); adapters stay float32. */
@Serializable
enum class Quantization {
  @SerialName("none") NONE,
  /** 8-bit absmax per output row. */
  @SerialName("int8") INT8,
  /** QLoRA's 4-bit NormalFloat, one absmax per block of 64 weights. */
  @SerialName("nf4") NF4,
}

/**
 * Quantization of the frozen base. [doubleQuant] (NF4 only) stores the per-block absmax values as
 * 8-bit too, saving about 0.37 bits per parameter.
 */
@Serializable
data class QuantizationPlan
@JvmOverloads
constructor(
  val base: Quantization = Quantization.NONE,
  val doubleQuant: Boolean = false,
)
