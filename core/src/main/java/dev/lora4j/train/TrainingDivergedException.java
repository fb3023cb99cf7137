package dev.lora4j.train;

/** The loss or the gradients became NaN or infinite; no variable was updated with them. */
public final class TrainingDivergedException extends RuntimeException {
  public TrainingDivergedException(String message) {
    super(message);
  }
}
