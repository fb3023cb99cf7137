package dev.lora4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.adapter.LoraFactors;
import dev.lora4j.adapter.PeftAdapter;
import java.nio.file.Path;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.NormOps_DDRM;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Spectra from the factors against a dense SVD, and effective rank on cases with known answers. */
class ModuleSpectrumTest {
  @TempDir Path tmp;

  /**
   * A [r, in] whose rows are c times the first r unit vectors, B [out, r] = the first r columns.
   */
  static LoraFactors diagonal(double[] values, int in, int out) {
    int r = values.length;
    float[] a = new float[r * in];
    float[] b = new float[out * r];
    for (int k = 0; k < r; k++) {
      a[k * in + k] = (float) values[k];
      b[k * r + k] = 1;
    }
    return new LoraFactors("m", r, in, out, a, b);
  }

  @Test
  void moduleSingularValuesAndNormsEqualADenseSvdOfTheScaledDelta() {
    PeftAdapter adapter = PeftAdapter.load(Conformance.dir("gpt2-tiny").resolve("adapter"));
    Map<String, ModuleSpectrum> spectra = ModuleSpectrum.of(adapter);
    assertEquals(adapter.modules().keySet(), spectra.keySet());
    for (LoraFactors f : adapter.modules().values()) {
      double scale = adapter.config().scaleFor(f.module());
      DMatrixRMaj delta = Dense.delta(f, scale);
      double[] want = Dense.svd(delta).s();
      ModuleSpectrum got = spectra.get(f.module());
      assertEquals(f.rank(), got.singularValues().length, f.module());
      for (int k = 0; k < f.rank(); k++) {
        assertEquals(want[k], got.singularValues()[k], 1e-5, f.module() + " σ" + k);
      }
      // The rest of the dense spectrum is round-off: ΔW has rank r.
      assertTrue(want[f.rank()] < 1e-5 * want[0], f.module());
      assertEquals(NormOps_DDRM.normF(delta), got.frobenius(), 1e-5 * got.frobenius());
      assertEquals(want[0], got.spectral(), 1e-5 * want[0]);
      assertEquals(2.0, got.scale());
      assertTrue(got.entropyRank() > 1 && got.entropyRank() <= f.rank(), f.module());
      assertTrue(got.energyRank() >= 1 && got.energyRank() <= f.rank(), f.module());
    }
  }

  @Test
  void aRankOneDeltaHasEffectiveRankOneBothWays() {
    LoraFactors f = diagonal(new double[] {3, 0, 0, 0}, 10, 12);
    ModuleSpectrum s = ModuleSpectrum.of(f, 2.0);
    assertEquals(6.0, s.spectral(), 1e-12);
    assertEquals(6.0, s.frobenius(), 1e-12);
    assertEquals(1.0, s.entropyRank(), 1e-9);
    assertEquals(1, s.energyRank());
  }

  @Test
  void equalSingularValuesGiveTheFullRankBothWays() {
    ModuleSpectrum s = ModuleSpectrum.of(diagonal(new double[] {0.5, 0.5, 0.5, 0.5}, 16, 8), 1);
    assertEquals(4.0, s.entropyRank(), 1e-9);
    assertEquals(4, s.energyRank());
    assertEquals(1.0, s.frobenius(), 1e-12);
  }

  @Test
  void effectiveRanksOnKnownSpectra() {
    // p = (1/2, 1/4, 1/4): entropy = 1.5 ln 2, so exp gives 2^1.5.
    assertEquals(Math.pow(2, 1.5), ModuleSpectrum.entropyRank(new double[] {2, 1, 1}), 1e-12);
    // energies 16, 4, 1: 16/21 < 0.9 <= 20/21.
    assertEquals(2, ModuleSpectrum.energyRank(new double[] {4, 2, 1}, 0.9));
    assertEquals(1, ModuleSpectrum.energyRank(new double[] {4, 2, 1}, 0.7));
    assertEquals(0.0, ModuleSpectrum.entropyRank(new double[] {0, 0}));
    assertEquals(0, ModuleSpectrum.energyRank(new double[] {0, 0}, 0.9));
    assertThrows(
        IllegalArgumentException.class, () -> ModuleSpectrum.energyRank(new double[] {1}, 0));
  }

  @Test
  void aFreshAdapterWithZeroBHasAZeroSpectrum() {
    LoraFactors f = diagonal(new double[] {1, 1}, 6, 6);
    LoraFactors zeroB = new LoraFactors("m", 2, 6, 6, f.a(), new float[12]);
    ModuleSpectrum s = ModuleSpectrum.of(zeroB, 2);
    assertEquals(0.0, s.frobenius());
    assertEquals(0.0, s.entropyRank());
    assertEquals(0, s.energyRank());
  }

  @Test
  void aRankAboveMinInOutIsRefusedNamingTheAdapterAndModule() {
    // r 4 on a module with in 3: ΔW [5, 3] has at most 3 singular values.
    float[] a = new float[4 * 3];
    float[] b = new float[5 * 4];
    for (int i = 0; i < a.length; i++) {
      a[i] = 0.1f * (i + 1);
    }
    for (int i = 0; i < b.length; i++) {
      b[i] = 0.01f * (i + 1);
    }
    Path dir = tmp.resolve("wide");
    PeftAdapter.write(
        dir,
        Map.of(
            "transformer.h.0.attn.c_proj",
            new LoraFactors("transformer.h.0.attn.c_proj", 4, 3, 5, a, b)),
        Map.of("transformer.h.0.attn.c_proj", 2.0),
        false,
        true,
        0.0,
        "gpt2-tiny");
    PeftAdapter wide = PeftAdapter.load(dir);
    String m =
        assertThrows(IllegalArgumentException.class, () -> ModuleSpectrum.of(wide)).getMessage();
    assertTrue(m.contains(dir.toString()), m);
    assertTrue(m.contains("transformer.h.0.attn.c_proj"), m);
    assertTrue(m.contains("rank 4 exceeds min(in, out) = 3"), m);
  }
}
