/**
 * The plan compiler: a checkpoint plus resolved adapter specs ({@link
 * dev.lora4j.compile.LoraModuleSpec}) become one TensorFlow graph and session ({@link
 * dev.lora4j.compile.CompiledModel}) whose only trainable variables are the adapter factors.
 */
package dev.lora4j.compile;
