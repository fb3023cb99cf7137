package dev.lora4j.analysis;

import dev.lora4j.adapter.Combiner;
import dev.lora4j.adapter.LoraFactors;
import dev.lora4j.adapter.PeftAdapter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * How much the input subspaces of two adapters' lora_A overlap on one module: the LoRA paper's (Hu
 * et al. 2021, section 7.2) φ(A, A′, i, j) = ‖U_iᵀ U′_j‖²_F / min(i, j), where U_i holds the top-i
 * right-singular vectors of A [r, in] (a basis of its row space). φ is 1 when one subspace contains
 * the other and about max(i, j) / in for unrelated random subspaces.
 *
 * <p>The one-number {@code summary} is the mean of the diagonal φ(k, k) for k = 1..min(r, r′). It
 * is 1 only when every pair of top-k subspaces coincides, and it weighs the leading directions
 * (they take part in every term) more than the tail, which carries little of the update. Unlike
 * φ(r, r′) it does not reach 1 just because one adapter's rank equals in.
 *
 * @param phi phi[i-1][j-1] = φ(A, A′, i, j) for i in 1..rankA, j in 1..rankB
 * @param summary mean of φ(k, k) for k = 1..min(rankA, rankB)
 * @param randomBaseline what {@code summary} is in expectation for random subspaces: the mean of k
 *     / in, (min(rankA, rankB) + 1) / (2 in)
 */
public record SubspaceSimilarity(
    String module,
    int rankA,
    int rankB,
    int in,
    double[][] phi,
    double summary,
    double randomBaseline) {

  /**
   * φ(A1, A2, i, j) for one pair (i, j).
   *
   * @param a1 row-major [r1, in]
   * @param a2 row-major [r2, in]
   * @param i in 1..r1
   * @param j in 1..r2
   */
  public static double subspaceSimilarity(float[] a1, int r1, float[] a2, int r2, int i, int j) {
    int in = checkShapes(a1, r1, a2, r2);
    checkIndex("i", i, r1);
    checkIndex("j", j, r2);
    DMatrixRMaj overlap = overlap(a1, r1, a2, r2, in);
    double sum = 0;
    for (int a = 0; a < i; a++) {
      for (int b = 0; b < j; b++) {
        double m = overlap.get(a, b);
        sum += m * m;
      }
    }
    return sum / Math.min(i, j);
  }

  /** The whole φ matrix, phi[i-1][j-1] for i in 1..r1 and j in 1..r2, from one SVD per factor. */
  public static double[][] phi(float[] a1, int r1, float[] a2, int r2) {
    int in = checkShapes(a1, r1, a2, r2);
    DMatrixRMaj overlap = overlap(a1, r1, a2, r2, in);
    // prefix[i][j] = Σ_{a<i, b<j} (V1ᵀV2)[a, b]², so each φ is one lookup.
    double[][] prefix = new double[r1 + 1][r2 + 1];
    double[][] phi = new double[r1][r2];
    for (int i = 1; i <= r1; i++) {
      for (int j = 1; j <= r2; j++) {
        double m = overlap.get(i - 1, j - 1);
        prefix[i][j] = prefix[i - 1][j] + prefix[i][j - 1] - prefix[i - 1][j - 1] + m * m;
        phi[i - 1][j - 1] = prefix[i][j] / Math.min(i, j);
      }
    }
    return phi;
  }

  /** The mean of the diagonal φ(k, k), k = 1..min(rows, columns). */
  public static double summary(double[][] phi) {
    int m = Math.min(phi.length, phi.length == 0 ? 0 : phi[0].length);
    if (m == 0) {
      throw new IllegalArgumentException("the φ matrix is empty");
    }
    double sum = 0;
    for (int k = 0; k < m; k++) {
      sum += phi[k][k];
    }
    return sum / m;
  }

  /** φ between two modules' lora_A factors, which must share the module's shape. */
  public static SubspaceSimilarity of(LoraFactors a, LoraFactors b) {
    double[][] phi;
    try {
      phi = phi(a.a(), a.rank(), b.a(), b.rank());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("module " + a.module() + ": " + e.getMessage(), e);
    }
    int m = Math.min(a.rank(), b.rank());
    return new SubspaceSimilarity(
        a.module(), a.rank(), b.rank(), a.in(), phi, summary(phi), (m + 1) / (2.0 * a.in()));
  }

  /**
   * φ for every module both adapters adapt, in the first adapter's order. Modules present in only
   * one are skipped (compare the key sets to list them); no common module at all is an error.
   */
  public static Map<String, SubspaceSimilarity> compare(PeftAdapter first, PeftAdapter second) {
    List<String> common = new ArrayList<>();
    for (String module : first.modules().keySet()) {
      if (second.modules().containsKey(module)) {
        common.add(module);
      }
    }
    if (common.isEmpty()) {
      throw new IllegalArgumentException(
          "adapters "
              + first.dir()
              + " and "
              + second.dir()
              + " share no module: the first adapts "
              + first.modules().keySet()
              + ", the second "
              + second.modules().keySet()
              + "; compare adapters trained on the same base with overlapping targets");
    }
    Map<String, SubspaceSimilarity> out = new LinkedHashMap<>();
    for (String module : common) {
      out.put(module, compare(first, second, module));
    }
    return out;
  }

  /** φ on one module, which both adapters must adapt with the same [out, in] shape. */
  public static SubspaceSimilarity compare(PeftAdapter first, PeftAdapter second, String module) {
    LoraFactors a = first.modules().get(module);
    LoraFactors b = second.modules().get(module);
    if (a == null || b == null) {
      String problem;
      if (a == null && b == null) {
        problem = "neither adapter adapts it";
      } else if (a == null) {
        problem = "only " + second.dir() + " adapts it, " + first.dir() + " does not";
      } else {
        problem = "only " + first.dir() + " adapts it, " + second.dir() + " does not";
      }
      List<String> both =
          first.modules().keySet().stream().filter(second.modules()::containsKey).toList();
      throw new IllegalArgumentException(
          "module " + module + ": " + problem + "; modules in both adapters: " + both);
    }
    ModuleSpectrum.checkFactors(a, "adapter " + first.dir());
    ModuleSpectrum.checkFactors(b, "adapter " + second.dir());
    if (a.in() != b.in() || a.out() != b.out()) {
      throw new IllegalArgumentException(
          "module "
              + module
              + " has different shapes: [out "
              + a.out()
              + ", in "
              + a.in()
              + "] in adapter "
              + first.dir()
              + " but [out "
              + b.out()
              + ", in "
              + b.in()
              + "] in adapter "
              + second.dir()
              + "; the adapters were trained on different bases and their subspaces cannot be"
              + " compared");
    }
    return of(a, b);
  }

  /** V1ᵀ V2 [r1, r2] for the right-singular vectors V of each A, descending. */
  private static DMatrixRMaj overlap(float[] a1, int r1, float[] a2, int r2, int in) {
    DMatrixRMaj v1 = rowSpace("A1", a1, r1, in);
    DMatrixRMaj v2 = rowSpace("A2", a2, r2, in);
    DMatrixRMaj overlap = new DMatrixRMaj(r1, r2);
    CommonOps_DDRM.multTransA(v1, v2, overlap);
    return overlap;
  }

  /**
   * The right-singular vectors of A [r, in] as columns [in, r], descending. A is I·A, so the
   * low-rank SVD of the factor pair (B = I_r, A) is the SVD of A itself.
   */
  private static DMatrixRMaj rowSpace(String name, float[] a, int r, int in) {
    float[] identity = new float[r * r];
    for (int k = 0; k < r; k++) {
      identity[k * r + k] = 1;
    }
    DMatrixRMaj v;
    IllegalStateException failure = null;
    try {
      v = Combiner.LowRankSvd.of(new LoraFactors(name, r, in, r, a, identity)).v();
    } catch (IllegalStateException e) {
      // Householder QR stops at an exactly dependent row; its missing directions are arbitrary.
      v = null;
      failure = e;
    }
    // Zero rows are dropped by the factored SVD, which then has fewer than r directions.
    if (v == null || v.numCols < r) {
      throw new IllegalArgumentException(
          name
              + " ["
              + r
              + ", "
              + in
              + "] has exactly linearly dependent (or zero) rows, so it has fewer than "
              + r
              + " right-singular vectors and φ is not defined",
          failure);
    }
    return v;
  }

  private static int checkShapes(float[] a1, int r1, float[] a2, int r2) {
    if (r1 < 1 || r2 < 1) {
      throw new IllegalArgumentException("ranks must be at least 1, were " + r1 + " and " + r2);
    }
    if (a1.length % r1 != 0 || a2.length % r2 != 0 || a1.length / r1 != a2.length / r2) {
      throw new IllegalArgumentException(
          "A1 has "
              + a1.length
              + " values for rank "
              + r1
              + " and A2 has "
              + a2.length
              + " for rank "
              + r2
              + "; both must be [r, in] with the same in");
    }
    int in = a1.length / r1;
    if (r1 > in || r2 > in) {
      throw new IllegalArgumentException(
          "rank "
              + Math.max(r1, r2)
              + " exceeds in = "
              + in
              + ": an [r, in] matrix has at most "
              + in
              + " right-singular vectors");
    }
    return in;
  }

  private static void checkIndex(String name, int value, int rank) {
    if (value < 1 || value > rank) {
      throw new IllegalArgumentException(
          name + " must be between 1 and the rank " + rank + ", was " + value);
    }
  }
}
