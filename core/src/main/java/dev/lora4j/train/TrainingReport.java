package dev.lora4j.train;

import java.util.List;

/**
 * The outcome of a run.
 *
 * @param losses training loss of every update, in order (including those before a resume)
 * @param validation (step, loss) of every evaluation
 * @param stepMillisMedian median wall time of one update in this process
 */
public record TrainingReport(
    long steps,
    List<Double> losses,
    List<double[]> validation,
    double bestValidationLoss,
    long trainableParams,
    double stepMillisMedian,
    double tokensPerSecond,
    String stopReason) {

  public double finalValidationLoss() {
    return validation.isEmpty() ? Double.NaN : validation.get(validation.size() - 1)[1];
  }
}
