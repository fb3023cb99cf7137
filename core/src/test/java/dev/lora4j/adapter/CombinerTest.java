package dev.lora4j.adapter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.NormOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Adapter combinations checked against a direct dense computation of the deltas. */
class CombinerTest {
  static final String MODULE = "transformer.h.1.attn.c_attn";
  @TempDir Path tmp;

  static PeftAdapter first() {
    return PeftAdapter.load(Conformance.dir("gpt2-tiny").resolve("adapter"));
  }

  static PeftAdapter second() {
    return PeftAdapter.load(Conformance.dir("gpt2-tiny").resolve("train/adapter_step3"));
  }

  /** Dense s·B·A [out, in] in double. */
  static DMatrixRMaj dense(LoraFactors f, double scale) {
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

  static double relativeError(DMatrixRMaj got, DMatrixRMaj want) {
    DMatrixRMaj diff = new DMatrixRMaj(want.numRows, want.numCols);
    CommonOps_DDRM.subtract(got, want, diff);
    return NormOps_DDRM.normF(diff) / NormOps_DDRM.normF(want);
  }

  static DMatrixRMaj weightedSum(double w1, double w2) {
    DMatrixRMaj d1 = dense(first().modules().get(MODULE), first().config().scaleFor(MODULE));
    DMatrixRMaj d2 = dense(second().modules().get(MODULE), second().config().scaleFor(MODULE));
    DMatrixRMaj sum = new DMatrixRMaj(d1.numRows, d1.numCols);
    CommonOps_DDRM.add(w1, d1, w2, d2, sum);
    return sum;
  }

  @Test
  void catStacksTheFactorsAndReproducesTheWeightedSumExactly() {
    Map<String, LoraFactors> c =
        Combiner.combine(
            List.of(first(), second()), new double[] {0.7, -0.3}, Combiner.Method.CAT, 0);
    LoraFactors f = c.get(MODULE);
    assertEquals(8, f.rank());
    assertTrue(relativeError(dense(f, 1), weightedSum(0.7, -0.3)) <= 1e-6);
  }

  @Test
  void svdAtFullRankEqualsCatAndTruncatedIsTheBestLowRankApproximation() {
    DMatrixRMaj want = weightedSum(0.5, 0.5);
    LoraFactors full =
        Combiner.combine(
                List.of(first(), second()), new double[] {0.5, 0.5}, Combiner.Method.SVD, 8)
            .get(MODULE);
    assertTrue(relativeError(dense(full, 1), want) <= 1e-5);
    LoraFactors two =
        Combiner.combine(
                List.of(first(), second()), new double[] {0.5, 0.5}, Combiner.Method.SVD, 2)
            .get(MODULE);
    // Eckart-Young: the best rank-2 approximation from a dense SVD of the 48 x 144 delta.
    SingularValueDecomposition_F64<DMatrixRMaj> svd =
        DecompositionFactory_DDRM.svd(want.numRows, want.numCols, true, true, false);
    svd.decompose(want.copy());
    double[] s = svd.getSingularValues();
    DMatrixRMaj u = svd.getU(null, false);
    DMatrixRMaj v = svd.getV(null, false);
    Integer[] order = new Integer[s.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, (x, y) -> Double.compare(s[y], s[x]));
    DMatrixRMaj best = new DMatrixRMaj(want.numRows, want.numCols);
    for (int k = 0; k < 2; k++) {
      int j = order[k];
      for (int r = 0; r < want.numRows; r++) {
        for (int c = 0; c < want.numCols; c++) {
          best.add(r, c, s[j] * u.get(r, j) * v.get(c, j));
        }
      }
    }
    assertTrue(relativeError(dense(two, 1), best) <= 1e-5);
  }

  @Test
  void linearSumsScaledFactors() {
    double w1 = 0.6;
    double w2 = 0.4;
    LoraFactors f =
        Combiner.combine(
                List.of(first(), second()), new double[] {w1, w2}, Combiner.Method.LINEAR, 0)
            .get(MODULE);
    LoraFactors a = first().modules().get(MODULE);
    LoraFactors b = second().modules().get(MODULE);
    double s = first().config().scaleFor(MODULE);
    for (int i = 0; i < f.a().length; i++) {
      assertEquals(Math.sqrt(w1) * s * a.a()[i] + Math.sqrt(w2) * s * b.a()[i], f.a()[i], 1e-6);
    }
    for (int i = 0; i < f.b().length; i++) {
      assertEquals(Math.sqrt(w1) * a.b()[i] + Math.sqrt(w2) * b.b()[i], f.b()[i], 1e-6);
    }
  }

  @Test
  void combinedAdapterSavesAndLoadsWithScaleOne() {
    Map<String, LoraFactors> c =
        Combiner.combine(List.of(first(), second()), new double[] {1, 1}, Combiner.Method.CAT, 0);
    PeftAdapter saved = Combiner.save(c, first(), tmp.resolve("combined"));
    PeftAdapter loaded = PeftAdapter.load(saved.dir());
    assertEquals(1.0, loaded.config().scaleFor(MODULE), 1e-12);
    assertEquals(8, loaded.modules().get(MODULE).rank());
  }

  @Test
  void linearWithDifferentTargetsIsRefusedNamingTheModule() {
    PeftAdapter oneModule =
        Combiner.save(Map.of(MODULE, first().modules().get(MODULE)), first(), tmp.resolve("one"));
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () ->
                    Combiner.combine(
                        List.of(first(), oneModule),
                        new double[] {1, 1},
                        Combiner.Method.LINEAR,
                        0))
            .getMessage();
    assertTrue(m.contains("linear combination needs the same targets"), m);
    assertTrue(m.contains("has no adapter on transformer.h.0.attn.c_attn"), m);
  }

  @Test
  void adaptersOfDifferentArchitecturesAreRefusedWhateverTheMethod() {
    PeftAdapter llama = PeftAdapter.load(Conformance.dir("llama-tiny").resolve("adapter"));
    for (Combiner.Method method : Combiner.Method.values()) {
      String m =
          assertThrows(
                  IllegalArgumentException.class,
                  () -> Combiner.combine(List.of(first(), llama), new double[] {1, 1}, method, 4))
              .getMessage();
      assertTrue(m.contains("has fan_in_fan_out true and"), m);
      assertTrue(m.contains("combine adapters of one base only"), m);
    }
  }

  @Test
  void svdCombinationOfAFreshAdapterWithZeroBWorks() {
    PeftAdapter fresh = PeftAdapter.load(Conformance.dir("gpt2-tiny").resolve("adapter"));
    for (LoraFactors f : fresh.modules().values()) {
      java.util.Arrays.fill(f.b(), 0f); // a fresh PEFT adapter: B = 0
    }
    LoraFactors f =
        Combiner.combine(List.of(fresh, second()), new double[] {1, 1}, Combiner.Method.SVD, 4)
            .get(MODULE);
    DMatrixRMaj want = dense(second().modules().get(MODULE), second().config().scaleFor(MODULE));
    assertTrue(relativeError(dense(f, 1), want) <= 1e-5);
  }
}
