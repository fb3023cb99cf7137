/**
 * Adapters as files and values: Hugging Face PEFT's directory layout ({@link
 * dev.lora4j.adapter.PeftAdapter}) and the factors it holds ({@link
 * dev.lora4j.adapter.LoraFactors}); merging ({@link dev.lora4j.adapter.Merger}), several adapters
 * on one graph, swapped ({@link dev.lora4j.adapter.AdapterSet}) or chosen per batch row ({@link
 * dev.lora4j.adapter.MixedAdapters}), combination ({@link dev.lora4j.adapter.Combiner}) and
 * SavedModel export.
 */
package dev.lora4j.adapter;
