package dev.lora4j.train;

/**
 * The learning-rate schedule, as a function of the optimizer step k = 0, 1, ... (the lr used by
 * update k + 1), with Hugging Face's conventions: linear warm-up lr * k / warmup, then constant,
 * linear decay to minLrRatio * lr at the last step, or cosine decay to minLrRatio * lr.
 *
 * @param warmupSteps warm-up in steps; ignored when warmupRatio is set
 * @param warmupRatio warm-up as a fraction of the total steps, or NaN
 */
public record ScheduleConfig(Kind kind, long warmupSteps, double warmupRatio, double minLrRatio) {

  public enum Kind {
    CONSTANT,
    LINEAR,
    COSINE
  }

  public static ScheduleConfig constant() {
    return new ScheduleConfig(Kind.CONSTANT, 0, Double.NaN, 0);
  }

  public static ScheduleConfig of(Kind kind, long warmupSteps, double minLrRatio) {
    return new ScheduleConfig(kind, warmupSteps, Double.NaN, minLrRatio);
  }

  public static ScheduleConfig withWarmupRatio(Kind kind, double ratio, double minLrRatio) {
    return new ScheduleConfig(kind, 0, ratio, minLrRatio);
  }

  /** Warm-up steps for a run of totalSteps. */
  public long warmup(long totalSteps) {
    return Double.isNaN(warmupRatio) ? warmupSteps : (long) Math.ceil(warmupRatio * totalSteps);
  }

  /** The learning-rate multiplier at step k (0-based), computed on the host (for reports). */
  public double factor(long k, long totalSteps) {
    long warmup = warmup(totalSteps);
    if (k < warmup) {
      return (double) k / Math.max(1, warmup);
    }
    double progress = (double) (k - warmup) / Math.max(1, totalSteps - warmup);
    progress = Math.min(1, progress);
    return switch (kind) {
      case CONSTANT -> 1;
      case LINEAR -> minLrRatio + (1 - minLrRatio) * (1 - progress);
      case COSINE -> minLrRatio + (1 - minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * progress));
    };
  }

  public void validate(long totalSteps) {
    if (!Double.isNaN(warmupRatio) && !(warmupRatio >= 0 && warmupRatio < 1)) {
      throw new IllegalArgumentException(
          "warm-up ratio must be in [0, 1), was " + warmupRatio + "; e.g. 0.03");
    }
    if (warmupSteps < 0) {
      throw new IllegalArgumentException("warm-up steps must be >= 0, was " + warmupSteps);
    }
    if (warmup(totalSteps) >= totalSteps && warmup(totalSteps) > 0) {
      throw new IllegalArgumentException(
          "warm-up ("
              + warmup(totalSteps)
              + " steps) must be shorter than the run ("
              + totalSteps
              + " steps); lower --warmup or raise --steps");
    }
    if (!(minLrRatio >= 0 && minLrRatio <= 1)) {
      throw new IllegalArgumentException(
          "minimum learning-rate ratio must be in [0, 1], was " + minLrRatio);
    }
  }
}
