package dev.lora4j.train;

/** Receives {@link TrainingEvent}s on the training thread. */
@FunctionalInterface
public interface TrainingListener {
  void onEvent(TrainingEvent event);
}
