package dev.lora4j.analysis;

import dev.lora4j.adapter.LoraFactors;
import java.util.Arrays;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/** The dense oracle: ΔW [out, in] materialized and decomposed by EJML directly. */
final class Dense {
  private Dense() {}

  /** scale·B·A [out, in] in double. */
  static DMatrixRMaj delta(LoraFactors f, double scale) {
    DMatrixRMaj b = new DMatrixRMaj(f.out(), f.rank());
    DMatrixRMaj a = new DMatrixRMaj(f.rank(), f.in());
    for (int i = 0; i < b.data.length; i++) {
      b.data[i] = f.b()[i];
    }
    for (int i = 0; i < a.data.length; i++) {
      a.data[i] = f.a()[i];
    }
    DMatrixRMaj out = new DMatrixRMaj(f.out(), f.in());
    CommonOps_DDRM.mult(scale, b, a, out);
    return out;
  }

  static DMatrixRMaj matrix(float[] values, int rows, int cols) {
    DMatrixRMaj m = new DMatrixRMaj(rows, cols);
    for (int i = 0; i < values.length; i++) {
      m.data[i] = values[i];
    }
    return m;
  }

  /** A dense SVD with singular values descending: {U [m, k], s [k], V [n, k]}, k = min(m, n). */
  record Svd(DMatrixRMaj u, double[] s, DMatrixRMaj v) {}

  static Svd svd(DMatrixRMaj m) {
    SingularValueDecomposition_F64<DMatrixRMaj> svd =
        DecompositionFactory_DDRM.svd(m.numRows, m.numCols, true, true, true);
    if (!svd.decompose(m.copy())) {
      throw new AssertionError("dense SVD failed");
    }
    double[] s = svd.getSingularValues();
    DMatrixRMaj u = svd.getU(null, false);
    DMatrixRMaj v = svd.getV(null, false);
    Integer[] order = new Integer[s.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (x, y) -> Double.compare(s[y], s[x]));
    DMatrixRMaj su = new DMatrixRMaj(u.numRows, order.length);
    DMatrixRMaj sv = new DMatrixRMaj(v.numRows, order.length);
    double[] ss = new double[order.length];
    for (int k = 0; k < order.length; k++) {
      ss[k] = s[order[k]];
      for (int r = 0; r < u.numRows; r++) {
        su.set(r, k, u.get(r, order[k]));
      }
      for (int r = 0; r < v.numRows; r++) {
        sv.set(r, k, v.get(r, order[k]));
      }
    }
    return new Svd(su, ss, sv);
  }
}
