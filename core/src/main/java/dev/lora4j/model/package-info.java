/**
 * Model families as graph builders: Hugging Face configs ({@link dev.lora4j.model.ModelConfig}),
 * checkpoint directories ({@link dev.lora4j.model.Checkpoint}) and the architectures ({@link
 * dev.lora4j.model.Gpt2}, {@link dev.lora4j.model.Llama}) that build logits by asking a {@link
 * dev.lora4j.model.ProjectionHook} for every projection. Nothing here knows about LoRA.
 */
package dev.lora4j.model;
