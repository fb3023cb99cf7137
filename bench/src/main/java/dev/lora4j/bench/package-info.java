/**
 * Benchmarks that print ratios measured in one run: forward, full fine-tuning and LoRA steps,
 * merged-vs-base forward and adapter swaps, each mode in its own JVM ({@link
 * dev.lora4j.bench.BenchRunner}).
 */
package dev.lora4j.bench;
