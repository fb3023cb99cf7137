package dev.lora4j.train;

import java.util.function.Consumer;

/**
 * How a run is scheduled.
 *
 * @param steps optimizer updates in the run (epochs are converted to steps by the caller)
 * @param batchSize rows per micro-batch
 * @param gradAccumulation micro-batches per update
 * @param maxGradNorm global-norm clipping, or null
 * @param evalEvery validation every N updates (0 = only at the end)
 * @param checkpointEvery checkpoint every N updates (0 = only at the end)
 * @param keepCheckpoints how many checkpoints to keep (oldest deleted first)
 * @param earlyStoppingPatience stop after this many evaluations without improvement (0 = off)
 * @param fullFineTune train every base weight instead of adapters (the baseline LoRA is measured
 *     against)
 */
public record TrainConfig(
    OptimizerConfig optimizer,
    ScheduleConfig schedule,
    long steps,
    int batchSize,
    int gradAccumulation,
    Double maxGradNorm,
    long seed,
    int evalEvery,
    int checkpointEvery,
    int keepCheckpoints,
    int earlyStoppingPatience,
    double earlyStoppingMinDelta,
    boolean fullFineTune) {

  public static TrainConfig defaults(OptimizerConfig optimizer, long steps, int batchSize) {
    return new TrainConfig(
        optimizer, ScheduleConfig.constant(), steps, batchSize, 1, null, 42, 0, 0, 3, 0, 0, false);
  }

  public TrainConfig withSchedule(ScheduleConfig schedule) {
    return with(d -> d.schedule = schedule);
  }

  public TrainConfig withGradAccumulation(int n) {
    return with(d -> d.gradAccumulation = n);
  }

  public TrainConfig withMaxGradNorm(Double norm) {
    return with(d -> d.maxGradNorm = norm);
  }

  public TrainConfig withSeed(long seed) {
    return with(d -> d.seed = seed);
  }

  public TrainConfig withEvaluation(int every, int patience, double minDelta) {
    return with(
        d -> {
          d.evalEvery = every;
          d.earlyStoppingPatience = patience;
          d.earlyStoppingMinDelta = minDelta;
        });
  }

  public TrainConfig withCheckpoints(int every, int keep) {
    return with(
        d -> {
          d.checkpointEvery = every;
          d.keepCheckpoints = keep;
        });
  }

  public TrainConfig withFullFineTune(boolean full) {
    return with(d -> d.fullFineTune = full);
  }

  /** Checks every field before anything is built; messages name the flag and the value. */
  public void validate() {
    optimizer.validate();
    if (steps < 1) {
      throw new IllegalArgumentException("--steps must be >= 1, was " + steps);
    }
    schedule.validate(steps);
    if (batchSize < 1) {
      throw new IllegalArgumentException("--batch-size must be >= 1, was " + batchSize);
    }
    if (gradAccumulation < 1) {
      throw new IllegalArgumentException("--grad-accum must be >= 1, was " + gradAccumulation);
    }
    if (maxGradNorm != null && !(maxGradNorm > 0)) {
      throw new IllegalArgumentException("--max-grad-norm must be > 0, was " + maxGradNorm);
    }
    if (evalEvery < 0 || checkpointEvery < 0) {
      throw new IllegalArgumentException(
          "--eval-every and --checkpoint-every must be >= 0 (0 = at the end only)");
    }
    if (keepCheckpoints < 1) {
      throw new IllegalArgumentException("--keep-checkpoints must be >= 1, was " + keepCheckpoints);
    }
    if (earlyStoppingPatience < 0) {
      throw new IllegalArgumentException(
          "--early-stopping patience must be >= 0, was " + earlyStoppingPatience);
    }
  }

  /** The parts of the config that must not change across a resume, as one canonical line. */
  String resumeKey() {
    return "optimizer="
        + optimizer
        + " schedule="
        + schedule
        + " steps="
        + steps
        + " batch="
        + batchSize
        + " accumulation="
        + gradAccumulation
        + " clip="
        + maxGradNorm
        + " seed="
        + seed
        + " full="
        + fullFineTune;
  }

  /** Returns a copy with the fields {@code change} sets; the canonical constructor checks it. */
  private TrainConfig with(Consumer<Draft> change) {
    Draft draft = new Draft(this);
    change.accept(draft);
    return draft.build();
  }

  /** The fields of a copy being made, as the withers change them. */
  private static final class Draft {
    OptimizerConfig optimizer;
    ScheduleConfig schedule;
    long steps;
    int batchSize;
    int gradAccumulation;
    Double maxGradNorm;
    long seed;
    int evalEvery;
    int checkpointEvery;
    int keepCheckpoints;
    int earlyStoppingPatience;
    double earlyStoppingMinDelta;
    boolean fullFineTune;

    Draft(TrainConfig from) {
      optimizer = from.optimizer;
      schedule = from.schedule;
      steps = from.steps;
      batchSize = from.batchSize;
      gradAccumulation = from.gradAccumulation;
      maxGradNorm = from.maxGradNorm;
      seed = from.seed;
      evalEvery = from.evalEvery;
      checkpointEvery = from.checkpointEvery;
      keepCheckpoints = from.keepCheckpoints;
      earlyStoppingPatience = from.earlyStoppingPatience;
      earlyStoppingMinDelta = from.earlyStoppingMinDelta;
      fullFineTune = from.fullFineTune;
    }

    TrainConfig build() {
      return new TrainConfig(
          optimizer,
          schedule,
          steps,
          batchSize,
          gradAccumulation,
          maxGradNorm,
          seed,
          evalEvery,
          checkpointEvery,
          keepCheckpoints,
          earlyStoppingPatience,
          earlyStoppingMinDelta,
          fullFineTune);
    }
  }
}
