package dev.lora4j.cli;

import dev.lora4j.train.TrainingEvent;
import dev.lora4j.train.TrainingListener;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Draws training events as a terminal progress bar (step, loss, lr, tokens/s, ETA) on stderr. */
final class ConsoleProgress implements TrainingListener, AutoCloseable {
  private final String task;
  private ProgressBar bar;

  ConsoleProgress(String task) {
    this.task = task;
  }

  @Override
  public void onEvent(TrainingEvent event) {
    if (event instanceof TrainingEvent.Started s) {
      bar =
          new ProgressBarBuilder()
              .setTaskName(task)
              .setInitialMax(s.totalSteps())
              .setStyle(ProgressBarStyle.ASCII)
              .setUpdateIntervalMillis(250)
              .setMaxRenderedLength(110)
              .build();
      bar.stepTo(s.startStep());
      System.err.printf(
          "%s: %,d trainable of %,d parameters (%.3f%%), %d steps%n",
          task,
          s.trainableParams(),
          s.totalParams(),
          100.0 * s.trainableParams() / s.totalParams(),
          s.totalSteps());
    } else if (event instanceof TrainingEvent.Step s) {
      bar.stepTo(s.step());
      bar.setExtraMessage(
          String.format("loss %.4f lr %.2e %,.0f tok/s", s.loss(), s.lr(), s.tokensPerSecond()));
    } else if (event instanceof TrainingEvent.Evaluated e) {
      bar.setExtraMessage(
          String.format(
              "val loss %.4f ppl %.2f%s",
              e.validationLoss(), e.perplexity(), e.improved() ? " *" : ""));
    } else if (event instanceof TrainingEvent.Stopped s) {
      System.err.println("\n" + task + ": " + s.reason());
    }
  }

  @Override
  public void close() {
    if (bar != null) {
      bar.close();
      bar = null;
    }
  }
}
