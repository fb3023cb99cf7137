/**
 * Quantized storage of a frozen base (QLoRA): NF4 (blocks of 64, optional double quantization of
 * the absmax values), per-channel int8 and bfloat16 for the linear projection weights, with the
 * dequantization built into the graph right before each projection's matmul ({@link
 * dev.lora4j.quant.QuantizedWeight}), and merging an adapter into a quantized base with the drift
 * reported ({@link dev.lora4j.quant.QuantizedMerge}). Embeddings, norms, biases, the output head
 * and the LoRA adapters stay float32.
 */
package dev.lora4j.quant;
