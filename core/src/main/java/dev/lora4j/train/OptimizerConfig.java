package dev.lora4j.train;

/**
 * The optimizer, with torch semantics.
 *
 * @param kind ADAMW (torch.optim.AdamW: decoupled decay, bias-corrected moments) or SGD
 *     (torch.optim.SGD: L2 decay added to the gradient, optional momentum)
 * @param loraPlusRatio LoRA+: B factors learn at lr * ratio (1 = plain LoRA)
 */
public record OptimizerConfig(
    Kind kind,
    double lr,
    double beta1,
    double beta2,
    double eps,
    double weightDecay,
    double momentum,
    double loraPlusRatio) {

  public enum Kind {
    ADAMW,
    SGD
  }

  public static OptimizerConfig adamW(double lr, double weightDecay) {
    return new OptimizerConfig(Kind.ADAMW, lr, 0.9, 0.999, 1e-8, weightDecay, 0, 1);
  }

  public static OptimizerConfig sgd(double lr, double momentum) {
    return new OptimizerConfig(Kind.SGD, lr, 0.9, 0.999, 1e-8, 0, momentum, 1);
  }

  public OptimizerConfig withBetas(double beta1, double beta2) {
    return new OptimizerConfig(kind, lr, beta1, beta2, eps, weightDecay, momentum, loraPlusRatio);
  }

  public OptimizerConfig withEps(double eps) {
    return new OptimizerConfig(kind, lr, beta1, beta2, eps, weightDecay, momentum, loraPlusRatio);
  }

  public OptimizerConfig withLoraPlusRatio(double ratio) {
    return new OptimizerConfig(kind, lr, beta1, beta2, eps, weightDecay, momentum, ratio);
  }

  /** Checks every field; the message names the flag, the value and the rule. */
  public void validate() {
    if (!(lr > 0) || !Double.isFinite(lr)) {
      throw new IllegalArgumentException(
          "learning rate must be > 0, was " + lr + "; typical LoRA values are 1e-4 to 2e-3");
    }
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException(
          "betas must each be in [0, 1), were " + beta1 + "," + beta2 + "; e.g. 0.9,0.999");
    }
    if (!(eps > 0)) {
      throw new IllegalArgumentException("eps must be > 0, was " + eps);
    }
    if (!(weightDecay >= 0)) {
      throw new IllegalArgumentException("weight decay must be >= 0, was " + weightDecay);
    }
    if (!(momentum >= 0 && momentum < 1)) {
      throw new IllegalArgumentException("momentum must be in [0, 1), was " + momentum);
    }
    if (!(loraPlusRatio > 0)) {
      throw new IllegalArgumentException(
          "LoRA+ ratio must be > 0 (1 = off, 16 is the paper's default), was " + loraPlusRatio);
    }
  }
}
