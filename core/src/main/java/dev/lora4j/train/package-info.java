/**
 * Training compiled into the model's graph: the optimizer over an explicit variable list ({@link
 * dev.lora4j.train.TrainingGraph}: AdamW and SGD with torch semantics, LoRA+, clipping,
 * accumulation, the learning-rate schedule as an op of the step variable), the loop with
 * validation, early stopping, events and atomic checkpoints ({@link dev.lora4j.train.Trainer},
 * {@link dev.lora4j.train.CheckpointStore}), and plans run end to end ({@link
 * dev.lora4j.train.PlanRunner}).
 */
package dev.lora4j.train;
