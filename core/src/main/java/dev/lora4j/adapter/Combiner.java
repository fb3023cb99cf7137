package dev.lora4j.adapter;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * Combines adapters trained on the same base into one, as PEFT's add_weighted_adapter does. The
 * result carries each source's scale in its factors and has scale 1 (alpha = r).
 *
 * <ul>
 *   <li>LINEAR (same targets and ranks): A = Σ sqrt|w|·s·A_i, B = Σ sign(w)·sqrt|w|·B_i.
 *   <li>CAT: A and B stacked, rank Σ r_i; B·A = Σ w·s·B_i·A_i exactly.
 *   <li>SVD: the best rank-r approximation of Σ w·s·B_i·A_i, from QR of the stacked factors and an
 *       (Σ r_i)² SVD, never a d×d one.
 * </ul>
 */
public final class Combiner {
  public enum Method {
    LINEAR,
    CAT,
    SVD
  }

  private Combiner() {}

  /**
   * @param svdRank the rank of the SVD result (ignored otherwise)
   */
  public static Map<String, LoraFactors> combine(
      List<PeftAdapter> adapters, double[] weights, Method method, int svdRank) {
    if (adapters.size() < 2) {
      throw new IllegalArgumentException(
          "combine needs at least two adapters, got " + adapters.size());
    }
    if (weights.length != adapters.size()) {
      throw new IllegalArgumentException(
          "give one weight per adapter: "
              + adapters.size()
              + " adapters, "
              + weights.length
              + " weights");
    }
    // fan_in_fan_out says which layout the base stores its weights in (true: GPT-2's Conv1D);
    // adapters that disagree were trained on different architectures, and their union would be
    // applied to the wrong weights.
    PeftAdapter first = adapters.get(0);
    for (PeftAdapter a : adapters) {
      if (a.config().getFanInFanOut() != first.config().getFanInFanOut()) {
        throw new IllegalArgumentException(
            first.dir()
                + " has fan_in_fan_out "
                + first.config().getFanInFanOut()
                + " and "
                + a.dir()
                + " has "
                + a.config().getFanInFanOut()
                + ": they were trained on bases of different architectures (GPT-2's Conv1D"
                + " layout vs nn.Linear); combine adapters of one base only");
      }
    }
    Set<String> modules = new LinkedHashSet<>();
    for (PeftAdapter a : adapters) {
      modules.addAll(a.modules().keySet());
    }
    Map<String, LoraFactors> out = new LinkedHashMap<>();
    for (String module : modules) {
      List<LoraFactors> parts = new ArrayList<>();
      List<Double> partScales = new ArrayList<>();
      List<Double> partWeights = new ArrayList<>();
      int in = -1;
      int outDim = -1;
      for (int i = 0; i < adapters.size(); i++) {
        LoraFactors f = adapters.get(i).modules().get(module);
        if (f == null) {
          if (method == Method.LINEAR) {
            throw new IllegalArgumentException(
                "linear combination needs the same targets: "
                    + adapters.get(i).dir()
                    + " has no adapter on "
                    + module
                    + "; use cat or svd");
          }
          continue;
        }
        if (in >= 0 && (f.in() != in || f.out() != outDim)) {
          throw new IllegalArgumentException(
              module
                  + ": adapters disagree on its shape (["
                  + outDim
                  + ", "
                  + in
                  + "] vs ["
                  + f.out()
                  + ", "
                  + f.in()
                  + "]); they were trained on different bases");
        }
        in = f.in();
        outDim = f.out();
        parts.add(f);
        partScales.add(adapters.get(i).config().scaleFor(module));
        partWeights.add(weights[i]);
      }
      out.put(
          module,
          switch (method) {
            case LINEAR -> linear(module, parts, partScales, partWeights);
            case CAT -> cat(module, parts, partScales, partWeights);
            case SVD -> svd(cat(module, parts, partScales, partWeights), svdRank);
          });
    }
    return out;
  }

  private static LoraFactors linear(
      String module, List<LoraFactors> parts, List<Double> scales, List<Double> weights) {
    int rank = parts.get(0).rank();
    for (LoraFactors f : parts) {
      if (f.rank() != rank) {
        throw new IllegalArgumentException(
            "linear combination needs equal ranks: "
                + module
                + " has ranks "
                + parts.stream().map(LoraFactors::rank).toList()
                + "; use cat or svd");
      }
    }
    LoraFactors first = parts.get(0);
    float[] a = new float[first.a().length];
    float[] b = new float[first.b().length];
    for (int p = 0; p < parts.size(); p++) {
      double root = Math.sqrt(Math.abs(weights.get(p)));
      double sign = Math.signum(weights.get(p));
      LoraFactors f = parts.get(p);
      for (int i = 0; i < a.length; i++) {
        a[i] += (float) (root * scales.get(p) * f.a()[i]);
      }
      for (int i = 0; i < b.length; i++) {
        b[i] += (float) (sign * root * f.b()[i]);
      }
    }
    return new LoraFactors(module, rank, first.in(), first.out(), a, b);
  }

  /** Stacks sqrt(w)·s·A_i (rows) and sqrt(w)·B_i (columns): B·A = Σ w·s·B_i·A_i. */
  private static LoraFactors cat(
      String module, List<LoraFactors> parts, List<Double> scales, List<Double> weights) {
    int rank = parts.stream().mapToInt(LoraFactors::rank).sum();
    int in = parts.get(0).in();
    int out = parts.get(0).out();
    float[] a = new float[rank * in];
    float[] b = new float[out * rank];
    int offset = 0;
    for (int p = 0; p < parts.size(); p++) {
      LoraFactors f = parts.get(p);
      double root = Math.sqrt(Math.abs(weights.get(p)));
      double sign = Math.signum(weights.get(p));
      for (int i = 0; i < f.a().length; i++) {
        a[offset * in + i] = (float) (root * scales.get(p) * f.a()[i]);
      }
      for (int row = 0; row < out; row++) {
        for (int k = 0; k < f.rank(); k++) {
          b[row * rank + offset + k] = (float) (sign * root * f.b()[row * f.rank() + k]);
        }
      }
      offset += f.rank();
    }
    return new LoraFactors(module, rank, in, out, a, b);
  }

  /** Truncated SVD of B·A from QR(B), QR(Aᵀ) and an r×r SVD of R_B·R_Aᵀ. */
  static LoraFactors svd(LoraFactors f, int rank) {
    if (rank < 1 || rank > Math.min(f.in(), f.out())) {
      throw new IllegalArgumentException(
          "svd rank must be between 1 and "
              + Math.min(f.in(), f.out())
              + " for "
              + f.module()
              + ", was "
              + rank);
    }
    LowRankSvd svd = LowRankSvd.of(f);
    int keep = Math.min(rank, svd.values().length);
    float[] a = new float[rank * f.in()];
    float[] b = new float[f.out() * rank];
    for (int k = 0; k < keep; k++) {
      double s = svd.values()[k];
      for (int i = 0; i < f.in(); i++) {
        a[k * f.in() + i] = (float) svd.v().get(i, k);
      }
      for (int o = 0; o < f.out(); o++) {
        b[o * rank + k] = (float) (s * svd.u().get(o, k));
      }
    }
    return new LoraFactors(f.module(), rank, f.in(), f.out(), a, b);
  }

  /**
   * The SVD of B·A for factors B [out, r], A [r, in]: B·A = U·diag(values)·Vᵀ with U [out, r], V
   * [in, r], values descending; computed from two thin QRs and an r×r SVD.
   */
  public record LowRankSvd(DMatrixRMaj u, double[] values, DMatrixRMaj v) {
    public static LowRankSvd of(LoraFactors factors) {
      // Rank components whose B column or A row is exactly zero (a fresh adapter has B = 0) add
      // nothing to B·A, and a thin QR cannot factor an exactly zero column: drop them first.
      LoraFactors f = withoutZeroComponents(factors);
      if (f.rank() == 0) {
        return new LowRankSvd(
            new DMatrixRMaj(factors.out(), 0), new double[0], new DMatrixRMaj(factors.in(), 0));
      }
      int r = f.rank();
      DMatrixRMaj b = new DMatrixRMaj(f.out(), r);
      for (int i = 0; i < b.data.length; i++) {
        b.data[i] = f.b()[i];
      }
      DMatrixRMaj at = new DMatrixRMaj(f.in(), r);
      for (int k = 0; k < r; k++) {
        for (int i = 0; i < f.in(); i++) {
          at.set(i, k, f.a()[k * f.in() + i]);
        }
      }
      QRDecomposition<DMatrixRMaj> qrB = DecompositionFactory_DDRM.qr(f.out(), r);
      QRDecomposition<DMatrixRMaj> qrA = DecompositionFactory_DDRM.qr(f.in(), r);
      if (!qrB.decompose(b.copy()) || !qrA.decompose(at.copy())) {
        throw new IllegalStateException("QR failed for " + f.module());
      }
      DMatrixRMaj qb = qrB.getQ(null, true);
      DMatrixRMaj rb = qrB.getR(null, true);
      DMatrixRMaj qa = qrA.getQ(null, true);
      DMatrixRMaj ra = qrA.getR(null, true);
      DMatrixRMaj core = new DMatrixRMaj(rb.numRows, ra.numRows);
      CommonOps_DDRM.multTransB(rb, ra, core);
      SingularValueDecomposition_F64<DMatrixRMaj> svd =
          DecompositionFactory_DDRM.svd(core.numRows, core.numCols, true, true, true);
      if (!svd.decompose(core)) {
        throw new IllegalStateException("SVD failed for " + f.module());
      }
      DMatrixRMaj cu = svd.getU(null, false);
      DMatrixRMaj cv = svd.getV(null, false);
      double[] values = svd.getSingularValues().clone();
      Integer[] order = new Integer[values.length];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      java.util.Arrays.sort(order, (x, y) -> Double.compare(values[y], values[x]));
      DMatrixRMaj u = new DMatrixRMaj(f.out(), order.length);
      DMatrixRMaj v = new DMatrixRMaj(f.in(), order.length);
      DMatrixRMaj fullU = new DMatrixRMaj(f.out(), cu.numCols);
      DMatrixRMaj fullV = new DMatrixRMaj(f.in(), cv.numCols);
      CommonOps_DDRM.mult(qb, cu, fullU);
      CommonOps_DDRM.mult(qa, cv, fullV);
      double[] sorted = new double[order.length];
      for (int k = 0; k < order.length; k++) {
        sorted[k] = values[order[k]];
        for (int o = 0; o < f.out(); o++) {
          u.set(o, k, fullU.get(o, order[k]));
        }
        for (int i = 0; i < f.in(); i++) {
          v.set(i, k, fullV.get(i, order[k]));
        }
      }
      return new LowRankSvd(u, sorted, v);
    }
  }

  /** The factors without the rank components whose column of B or row of A is all zeros. */
  static LoraFactors withoutZeroComponents(LoraFactors f) {
    int r = f.rank();
    int in = f.in();
    int out = f.out();
    boolean[] keep = new boolean[r];
    int kept = 0;
    for (int k = 0; k < r; k++) {
      boolean aNonzero = false;
      for (int i = 0; i < in && !aNonzero; i++) {
        aNonzero = f.a()[k * in + i] != 0;
      }
      boolean bNonzero = false;
      for (int o = 0; o < out && !bNonzero; o++) {
        bNonzero = f.b()[o * r + k] != 0;
      }
      keep[k] = aNonzero && bNonzero;
      kept += keep[k] ? 1 : 0;
    }
    if (kept == r) {
      return f;
    }
    float[] a = new float[kept * in];
    float[] b = new float[out * kept];
    int j = 0;
    for (int k = 0; k < r; k++) {
      if (!keep[k]) {
        continue;
      }
      System.arraycopy(f.a(), k * in, a, j * in, in);
      for (int o = 0; o < out; o++) {
        b[o * kept + j] = f.b()[o * r + k];
      }
      j++;
    }
    return new LoraFactors(f.module(), kept, in, out, a, b);
  }

  /** Writes combined factors (scale 1 each) as a PEFT directory. */
  public static PeftAdapter save(
      Map<String, LoraFactors> combined, PeftAdapter template, Path dir) {
    Map<String, Double> scales = new LinkedHashMap<>();
    for (String module : combined.keySet()) {
      scales.put(module, 1.0);
    }
    return PeftAdapter.write(
        dir,
        combined,
        scales,
        false,
        template.config().getFanInFanOut(),
        template.config().getLoraDropout(),
        template.config().getBaseModelNameOrPath());
  }
}
