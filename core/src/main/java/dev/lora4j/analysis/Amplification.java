package dev.lora4j.analysis;

import dev.lora4j.adapter.Combiner;
import dev.lora4j.adapter.LoraFactors;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.model.Projection;
import java.util.LinkedHashMap;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;

/**
 * The LoRA paper's amplification factor (Hu et al. 2021, section 7.3): ‖ΔW‖_F / ‖UᵀWV‖_F, with U
 * [out, r] and V [in, r] the top-r left and right singular vectors of ΔW = scale·B·A and W [out,
 * in] the base weight. A large ratio means ΔW amplifies directions W itself barely uses. Rank
 * components that are exactly zero (a zero column of B or row of A) have no singular vectors and
 * are left out of U and V; for ΔW = 0 (a fresh adapter) all three numbers are 0.
 *
 * @param deltaFrobenius ‖ΔW‖_F
 * @param projectedFrobenius ‖UᵀWV‖_F, the base weight's size in ΔW's subspaces
 * @param ratio deltaFrobenius / projectedFrobenius
 */
public record Amplification(
    String module, double deltaFrobenius, double projectedFrobenius, double ratio) {

  /**
   * The amplification of one module.
   *
   * @param weight the base weight as stored: [out, in] for LINEAR, [in, out] for CONV1D
   */
  public static Amplification of(
      LoraFactors f, double scale, float[] weight, Projection.Layout layout) {
    ModuleSpectrum.checkFactors(f, "the adapter");
    int in = f.in();
    int out = f.out();
    if (weight.length != (long) in * out) {
      throw new IllegalArgumentException(
          "module "
              + f.module()
              + ": the base weight has "
              + weight.length
              + " values but the adapter is [out "
              + out
              + ", in "
              + in
              + "]; the adapter belongs to another base");
    }
    Combiner.LowRankSvd svd = ModuleSpectrum.lowRankSvd(f);
    if (svd == null) {
      return new Amplification(f.module(), 0, 0, 0);
    }
    DMatrixRMaj u = svd.u();
    DMatrixRMaj v = svd.v();
    int r = svd.values().length;
    double delta = 0;
    for (double s : svd.values()) {
      delta += s * s;
    }
    delta = Math.abs(scale) * Math.sqrt(delta);
    // W·V [out, r] with W in its [out, in] orientation (Conv1D stores the transpose), walking the
    // stored weight in memory order.
    boolean linear = layout == Projection.Layout.LINEAR;
    int rows = linear ? out : in;
    int cols = linear ? in : out;
    double[] vd = v.data; // [in, r] row-major
    double[] wv = new double[out * r];
    for (int row = 0; row < rows; row++) {
      for (int col = 0; col < cols; col++) {
        double w = weight[row * cols + col];
        if (w == 0) {
          continue;
        }
        int o = linear ? row : col;
        int i = linear ? col : row;
        for (int k = 0; k < r; k++) {
          wv[o * r + k] += w * vd[i * r + k];
        }
      }
    }
    double projected = 0;
    for (int k = 0; k < r; k++) {
      for (int l = 0; l < r; l++) {
        double sum = 0;
        for (int o = 0; o < out; o++) {
          sum += u.data[o * r + k] * wv[o * r + l];
        }
        projected += sum * sum;
      }
    }
    projected = Math.sqrt(projected);
    return new Amplification(f.module(), delta, projected, delta / projected);
  }

  /**
   * Every module of an adapter against the base it was trained on, in the adapter's module order.
   * The adapter is checked against the model first (module names, shapes).
   */
  public static Map<String, Amplification> of(PeftAdapter adapter, Checkpoint checkpoint) {
    Map<String, Projection> byName = new LinkedHashMap<>();
    for (Projection p : checkpoint.architecture().projections()) {
      byName.put(p.name(), p);
    }
    Map<String, Double> scales = new LinkedHashMap<>();
    for (LoraModuleSpec spec : adapter.wholeModuleSpecsFor(checkpoint.architecture())) {
      scales.put(spec.module(), spec.scale());
    }
    Map<String, Amplification> out = new LinkedHashMap<>();
    for (LoraFactors f : adapter.modules().values()) {
      ModuleSpectrum.checkFactors(f, "adapter " + adapter.dir());
      Projection p = byName.get(f.module());
      out.put(
          f.module(), of(f, scales.get(f.module()), checkpoint.floats(p.weightKey()), p.layout()));
    }
    return out;
  }
}
