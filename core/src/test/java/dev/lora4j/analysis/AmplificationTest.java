package dev.lora4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.adapter.LoraFactors;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.io.JsonFields;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.model.Projection;
import java.nio.file.Path;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.NormOps_DDRM;
import org.junit.jupiter.api.Test;

/** The amplification factor against the conformance golden and a dense computation. */
class AmplificationTest {
  static final Path ANALYSIS = Conformance.dir("analysis");

  static void assertRelative(double want, double got, String what) {
    assertTrue(Math.abs(got - want) <= 1e-5 * Math.abs(want), what + ": " + got + " vs " + want);
  }

  static LoraFactors goldenFactors() {
    Path file = ANALYSIS.resolve("amplification.safetensors");
    return new LoraFactors(
        "golden", 4, 64, 64, Conformance.tensor(file, "A"), Conformance.tensor(file, "B"));
  }

  static float[] transpose(float[] m, int rows, int cols) {
    float[] t = new float[m.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        t[c * rows + r] = m[r * cols + c];
      }
    }
    return t;
  }

  @Test
  void matchesTheConformanceGoldenInBothLayouts() {
    JsonFields want = JsonFields.parse(ANALYSIS.resolve("amplification.json"));
    float[] w = Conformance.tensor(ANALYSIS.resolve("amplification.safetensors"), "W");
    Amplification linear = Amplification.of(goldenFactors(), 1.0, w, Projection.Layout.LINEAR);
    // The same W stored the Conv1D way, [in, out], must give the same numbers.
    Amplification conv =
        Amplification.of(goldenFactors(), 1.0, transpose(w, 64, 64), Projection.Layout.CONV1D);
    for (Amplification a : new Amplification[] {linear, conv}) {
      assertRelative(want.requireDouble("dW_fro"), a.deltaFrobenius(), "dW_fro");
      assertRelative(want.requireDouble("UtWV_fro"), a.projectedFrobenius(), "UtWV_fro");
      assertRelative(want.requireDouble("ratio"), a.ratio(), "ratio");
    }
  }

  @Test
  void theGoldenDeltaIsTheStoredProduct() {
    Path file = ANALYSIS.resolve("amplification.safetensors");
    DMatrixRMaj dw = Dense.matrix(Conformance.tensor(file, "dW"), 64, 64);
    DMatrixRMaj mine = Dense.delta(goldenFactors(), 1.0);
    CommonOps_DDRM.subtractEquals(mine, dw);
    assertTrue(NormOps_DDRM.normF(mine) <= 1e-6 * NormOps_DDRM.normF(dw));
  }

  /** ‖ΔW‖_F / ‖UᵀWV‖_F from a dense SVD of ΔW, with W read in its [out, in] orientation. */
  static double denseRatio(LoraFactors f, double scale, float[] stored, Projection.Layout layout) {
    DMatrixRMaj delta = Dense.delta(f, scale);
    Dense.Svd svd = Dense.svd(delta);
    DMatrixRMaj u = new DMatrixRMaj(f.out(), f.rank());
    DMatrixRMaj v = new DMatrixRMaj(f.in(), f.rank());
    CommonOps_DDRM.extract(svd.u(), 0, f.out(), 0, f.rank(), u, 0, 0);
    CommonOps_DDRM.extract(svd.v(), 0, f.in(), 0, f.rank(), v, 0, 0);
    DMatrixRMaj w =
        layout == Projection.Layout.LINEAR
            ? Dense.matrix(stored, f.out(), f.in())
            : Dense.matrix(transpose(stored, f.in(), f.out()), f.out(), f.in());
    DMatrixRMaj wv = new DMatrixRMaj(f.out(), f.rank());
    CommonOps_DDRM.mult(w, v, wv);
    DMatrixRMaj utwv = new DMatrixRMaj(f.rank(), f.rank());
    CommonOps_DDRM.multTransA(u, wv, utwv);
    return NormOps_DDRM.normF(delta) / NormOps_DDRM.normF(utwv);
  }

  @Test
  void everyModuleOfAnAdapterMatchesTheDenseComputationWithItsLayout() {
    for (String name : new String[] {"gpt2-tiny", "llama-tiny"}) {
      PeftAdapter adapter = PeftAdapter.load(Conformance.dir(name).resolve("adapter"));
      try (Checkpoint checkpoint = Checkpoint.open(Conformance.dir(name))) {
        Map<String, Amplification> got = Amplification.of(adapter, checkpoint);
        assertEquals(adapter.modules().keySet(), got.keySet());
        for (Projection p : checkpoint.architecture().projections()) {
          LoraFactors f = adapter.modules().get(p.name());
          if (f == null) {
            continue;
          }
          double scale = adapter.config().scaleFor(p.name());
          double want = denseRatio(f, scale, checkpoint.floats(p.weightKey()), p.layout());
          assertRelative(want, got.get(p.name()).ratio(), p.name());
          assertRelative(
              ModuleSpectrum.of(f, scale).frobenius(),
              got.get(p.name()).deltaFrobenius(),
              p.name());
        }
      }
    }
  }

  @Test
  void anAdapterForAnotherModelIsRefused() {
    PeftAdapter llama = PeftAdapter.load(Conformance.dir("llama-tiny").resolve("adapter"));
    try (Checkpoint gpt2 = Checkpoint.open(Conformance.dir("gpt2-tiny"))) {
      String m =
          assertThrows(RuntimeException.class, () -> Amplification.of(llama, gpt2)).getMessage();
      assertTrue(m.contains("model.layers.0.self_attn.q_proj"), m);
    }
  }

  @Test
  void aWeightOfTheWrongSizeIsRefused() {
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () ->
                    Amplification.of(
                        goldenFactors(), 1.0, new float[64 * 32], Projection.Layout.LINEAR))
            .getMessage();
    assertTrue(m.contains("golden") && m.contains("2048 values"), m);
  }

  @Test
  void aFreshAdapterWithZeroBAmplifiesNothing() {
    LoraFactors golden = goldenFactors();
    LoraFactors fresh = new LoraFactors("fresh", 4, 64, 64, golden.a(), new float[64 * 4]);
    float[] w = Conformance.tensor(ANALYSIS.resolve("amplification.safetensors"), "W");
    assertEquals(
        new Amplification("fresh", 0, 0, 0),
        Amplification.of(fresh, 2.0, w, Projection.Layout.LINEAR));
  }

  @Test
  void aZeroRankComponentIsLeftOutOfTheSubspaces() {
    // Zeroing B's last column leaves a rank-3 ΔW; U and V then hold its 3 directions.
    LoraFactors golden = goldenFactors();
    float[] b = golden.b().clone();
    for (int o = 0; o < 64; o++) {
      b[o * 4 + 3] = 0;
    }
    LoraFactors three = new LoraFactors("three", 4, 64, 64, golden.a(), b);
    float[] w = Conformance.tensor(ANALYSIS.resolve("amplification.safetensors"), "W");
    LoraFactors reduced =
        new LoraFactors(
            "three",
            3,
            64,
            64,
            java.util.Arrays.copyOf(golden.a(), 3 * 64),
            dropLastColumn(b, 64, 4));
    assertRelative(
        denseRatio(reduced, 1.0, w, Projection.Layout.LINEAR),
        Amplification.of(three, 1.0, w, Projection.Layout.LINEAR).ratio(),
        "rank-3 ratio");
    assertEquals(0.0, ModuleSpectrum.of(three, 1.0).singularValues()[3]);
  }

  static float[] dropLastColumn(float[] m, int rows, int cols) {
    float[] out = new float[rows * (cols - 1)];
    for (int r = 0; r < rows; r++) {
      System.arraycopy(m, r * cols, out, r * (cols - 1), cols - 1);
    }
    return out;
  }
}
