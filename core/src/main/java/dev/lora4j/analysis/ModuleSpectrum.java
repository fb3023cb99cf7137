package dev.lora4j.analysis;

import dev.lora4j.adapter.Combiner;
import dev.lora4j.adapter.LoraFactors;
import dev.lora4j.adapter.PeftAdapter;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The spectrum of one module's update ΔW = scale·B·A [out, in], from the factors' thin QRs and an
 * r×r SVD ({@link Combiner.LowRankSvd}).
 *
 * @param scale the adapter's scale for this module (alpha / r, or alpha / sqrt(r) with rsLoRA)
 * @param singularValues the r singular values of ΔW, descending (scale included)
 * @param entropyRank exp of the Shannon entropy of σ_i / Σσ (Roy and Vetterli 2007): 1 for a rank-1
 *     ΔW, r when all r singular values are equal, 0 for ΔW = 0
 * @param energyRank the fewest leading singular values holding {@link #ENERGY_FRACTION} of Σσ²; 0
 *     for ΔW = 0
 * @param frobenius ‖ΔW‖_F = sqrt(Σσ²)
 * @param spectral ‖ΔW‖_2 = σ_1
 */
public record ModuleSpectrum(
    String module,
    int rank,
    int in,
    int out,
    double scale,
    double[] singularValues,
    double entropyRank,
    int energyRank,
    double frobenius,
    double spectral) {

  /** The share of Σσ² that {@link #energyRank} must hold. */
  public static final double ENERGY_FRACTION = 0.9;

  /** The spectrum of scale·B·A for one module's factors. */
  public static ModuleSpectrum of(LoraFactors f, double scale) {
    checkFactors(f, "the adapter");
    Combiner.LowRankSvd svd = lowRankSvd(f);
    double[] values = svd == null ? new double[0] : svd.values();
    // Components dropped as exactly zero have singular value 0; report all r.
    double[] scaled = new double[f.rank()];
    double energy = 0;
    for (int k = 0; k < values.length; k++) {
      scaled[k] = Math.abs(scale) * values[k];
      energy += scaled[k] * scaled[k];
    }
    return new ModuleSpectrum(
        f.module(),
        f.rank(),
        f.in(),
        f.out(),
        scale,
        scaled,
        entropyRank(scaled),
        energyRank(scaled, ENERGY_FRACTION),
        Math.sqrt(energy),
        scaled.length == 0 ? 0 : scaled[0]);
  }

  /** Every module of an adapter, in the adapter's module order, each with its own scale. */
  public static Map<String, ModuleSpectrum> of(PeftAdapter adapter) {
    Map<String, ModuleSpectrum> out = new LinkedHashMap<>();
    for (LoraFactors f : adapter.modules().values()) {
      checkFactors(f, "adapter " + adapter.dir());
      out.put(f.module(), of(f, adapter.config().scaleFor(f.module())));
    }
    return out;
  }

  /**
   * exp(-Σ p_i ln p_i) with p_i = σ_i / Σσ: the entropy-based effective rank of Roy and Vetterli
   * (2007). Zero singular values contribute nothing (p ln p → 0); all zero gives 0.
   */
  public static double entropyRank(double[] singularValues) {
    double sum = 0;
    for (double s : singularValues) {
      sum += s;
    }
    if (!(sum > 0)) {
      return 0;
    }
    double entropy = 0;
    for (double s : singularValues) {
      double p = s / sum;
      if (p > 0) {
        entropy -= p * Math.log(p);
      }
    }
    return Math.exp(entropy);
  }

  /**
   * The fewest leading singular values (sorted descending) whose squares sum to at least {@code
   * fraction} of Σσ²; 0 when all are zero.
   */
  public static int energyRank(double[] singularValues, double fraction) {
    if (!(fraction > 0 && fraction <= 1)) {
      throw new IllegalArgumentException(
          "energy fraction must be in (0, 1], was " + fraction + "; use 0.9 for 90%");
    }
    double total = 0;
    for (double s : singularValues) {
      total += s * s;
    }
    if (!(total > 0)) {
      return 0;
    }
    double cumulative = 0;
    for (int k = 0; k < singularValues.length; k++) {
      cumulative += singularValues[k] * singularValues[k];
      // A relative slack so that equal values reach exactly 90% despite round-off.
      if (cumulative >= fraction * total * (1 - 1e-12)) {
        return k + 1;
      }
    }
    return singularValues.length;
  }

  /**
   * The SVD of B·A ({@link Combiner.LowRankSvd}, which drops exactly-zero rank components); null
   * when nothing is left (ΔW = 0).
   */
  static Combiner.LowRankSvd lowRankSvd(LoraFactors f) {
    Combiner.LowRankSvd svd;
    try {
      svd = Combiner.LowRankSvd.of(f);
    } catch (IllegalStateException e) {
      throw new IllegalArgumentException(
          "module "
              + f.module()
              + ": the columns of B or the rows of A are exactly linearly dependent, so the"
              + " factored SVD cannot be computed; drop the redundant rank components",
          e);
    }
    return svd.values().length == 0 ? null : svd;
  }

  /**
   * Factors must have the shapes they claim and a rank of at most min(in, out): beyond that ΔW has
   * fewer than r singular directions and "the top r" is meaningless.
   *
   * @param owner names the adapter in the message
   */
  static void checkFactors(LoraFactors f, String owner) {
    if (f.rank() < 1
        || f.a().length != (long) f.rank() * f.in()
        || f.b().length != (long) f.out() * f.rank()) {
      throw new IllegalArgumentException(
          owner
              + ", module "
              + f.module()
              + ": factors do not match rank "
              + f.rank()
              + ", in "
              + f.in()
              + ", out "
              + f.out()
              + " (A has "
              + f.a().length
              + " values, B has "
              + f.b().length
              + "; A must be [r, in] and B [out, r])");
    }
    int limit = Math.min(f.in(), f.out());
    if (f.rank() > limit) {
      throw new IllegalArgumentException(
          owner
              + ", module "
              + f.module()
              + ": rank "
              + f.rank()
              + " exceeds min(in, out) = "
              + limit
              + " (in "
              + f.in()
              + ", out "
              + f.out()
              + "); ΔW = B·A has at most "
              + limit
              + " singular values, so a rank above that adds only parameters. Retrain with r <= "
              + limit);
    }
  }
}
