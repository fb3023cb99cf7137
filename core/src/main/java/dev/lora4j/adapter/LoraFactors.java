package dev.lora4j.adapter;

/**
 * The two factors of one module's adapter, in PEFT's shapes: A [rank, in], B [out, rank].
 *
 * @param a row-major [rank, in]
 * @param b row-major [out, rank]
 */
public record LoraFactors(String module, int rank, int in, int out, float[] a, float[] b) {}
