/**
 * Adapters as files and values: Hugging Face PEFT's directory layout ({@link
 * dev.lora4j.adapter.PeftAdapter}) and the factors it holds ({@link
 * dev.lora4j.adapter.LoraFactors}).
 */
package dev.lora4j.adapter;
