/**
 * Reading and writing checkpoint files: {@link dev.lora4j.io.SafetensorsFile} validates a
 * safetensors header with the rules of the reference Rust reader and memory-maps each tensor only
 * when it is read (upcasting BF16, F16 and F64 to float on request); {@link
 * dev.lora4j.io.SafetensorsWriter} writes packed, padded files atomically through {@link
 * dev.lora4j.io.AtomicFiles}; {@link dev.lora4j.io.JsonFields} gives typed access to config files
 * such as {@code config.json} and {@code adapter_config.json}. Every malformed input becomes a
 * {@link dev.lora4j.io.CheckpointException} whose message names the file, the tensor or field, the
 * bad value and what to do.
 */
package dev.lora4j.io;
