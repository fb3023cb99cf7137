package dev.lora4j.train;

import java.nio.file.Path;

/** What a training run reports as it goes: a stream notebooks plot and the CLI draws bars from. */
public sealed interface TrainingEvent {

  record Started(long totalSteps, long startStep, long trainableParams, long totalParams)
      implements TrainingEvent {}

  /**
   * One optimizer update.
   *
   * @param loss the batch loss before this update
   * @param lr the learning rate this update used
   */
  record Step(
      long step,
      long totalSteps,
      double loss,
      double lr,
      double gradNorm,
      double tokensPerSecond,
      long elapsedMillis,
      long etaMillis)
      implements TrainingEvent {}

  record Evaluated(long step, double validationLoss, double perplexity, boolean improved)
      implements TrainingEvent {}

  record CheckpointSaved(long step, Path dir) implements TrainingEvent {}

  /** The run ended before its last step (early stopping). */
  record Stopped(long step, String reason) implements TrainingEvent {}

  record Finished(TrainingReport report) implements TrainingEvent {}
}
