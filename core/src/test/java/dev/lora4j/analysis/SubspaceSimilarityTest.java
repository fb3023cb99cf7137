package dev.lora4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.adapter.LoraFactors;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.io.JsonFields;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonPrimitive;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** φ against the conformance golden, its invariants, and the errors of mismatched inputs. */
class SubspaceSimilarityTest {
  @TempDir Path tmp;

  static final Path ANALYSIS = Conformance.dir("analysis");

  static float[] a8() {
    return Conformance.tensor(ANALYSIS.resolve("subspace.safetensors"), "A8");
  }

  static float[] a64() {
    return Conformance.tensor(ANALYSIS.resolve("subspace.safetensors"), "A64");
  }

  static double[][] goldenPhi() {
    JsonArray rows = (JsonArray) JsonFields.parse(ANALYSIS.resolve("phi.json")).get("phi");
    double[][] out = new double[rows.size()][];
    for (int i = 0; i < out.length; i++) {
      JsonArray row = (JsonArray) rows.get(i);
      out[i] = new double[row.size()];
      for (int j = 0; j < out[i].length; j++) {
        out[i][j] = Double.parseDouble(((JsonPrimitive) row.get(j)).getContent());
      }
    }
    return out;
  }

  @Test
  void phiMatrixMatchesTheConformanceGolden() {
    double[][] want = goldenPhi();
    double[][] got = SubspaceSimilarity.phi(a8(), 8, a64(), 64);
    assertEquals(8, want.length);
    assertEquals(8, got.length);
    double worst = 0;
    for (int i = 0; i < 8; i++) {
      assertEquals(64, got[i].length);
      for (int j = 0; j < 64; j++) {
        worst = Math.max(worst, Math.abs(got[i][j] - want[i][j]));
      }
      // A64 is square with full rank, so its 64 directions span everything.
      assertEquals(1.0, got[i][63], 1e-9);
    }
    assertTrue(worst <= 1e-5, "max abs φ difference " + worst);
  }

  @Test
  void singleEntriesAgreeWithTheMatrix() {
    double[][] want = goldenPhi();
    int[][] pairs = {{1, 1}, {1, 64}, {8, 8}, {3, 17}, {8, 1}};
    for (int[] p : pairs) {
      double got = SubspaceSimilarity.subspaceSimilarity(a8(), 8, a64(), 64, p[0], p[1]);
      assertEquals(want[p[0] - 1][p[1] - 1], got, 1e-5, "φ(" + p[0] + ", " + p[1] + ")");
    }
  }

  @Test
  void phiIsSymmetricUnderSwappingTheAdapters() {
    double[][] ab = SubspaceSimilarity.phi(a8(), 8, a64(), 64);
    double[][] ba = SubspaceSimilarity.phi(a64(), 64, a8(), 8);
    for (int i = 0; i < 8; i++) {
      for (int j = 0; j < 64; j++) {
        assertEquals(ab[i][j], ba[j][i], 1e-12);
      }
    }
  }

  @Test
  void anAdapterComparedWithItselfIsOneEverywhere() {
    PeftAdapter adapter = PeftAdapter.load(Conformance.dir("llama-tiny").resolve("adapter"));
    Map<String, SubspaceSimilarity> self = SubspaceSimilarity.compare(adapter, adapter);
    assertEquals(adapter.modules().keySet(), self.keySet());
    for (SubspaceSimilarity s : self.values()) {
      for (double[] row : s.phi()) {
        for (double v : row) {
          assertEquals(1.0, v, 1e-9, s.module());
        }
      }
      assertEquals(1.0, s.summary(), 1e-9);
      assertTrue(s.randomBaseline() < 0.2, s.module());
    }
  }

  @Test
  void trainingMovesTheSubspaceLittleOnGpt2Tiny() {
    PeftAdapter init = PeftAdapter.load(Conformance.dir("gpt2-tiny").resolve("train/adapter_init"));
    PeftAdapter step3 =
        PeftAdapter.load(Conformance.dir("gpt2-tiny").resolve("train/adapter_step3"));
    Map<String, SubspaceSimilarity> c = SubspaceSimilarity.compare(init, step3);
    assertEquals(6, c.size());
    for (SubspaceSimilarity s : c.values()) {
      assertEquals(4, s.phi().length);
      assertEquals(4, s.phi()[0].length);
      // Three AdamW steps at lr 2e-3 barely rotate A.
      assertTrue(s.summary() > 0.9, s.module() + " " + s.summary());
      assertEquals(SubspaceSimilarity.summary(s.phi()), s.summary());
    }
  }

  @Test
  void indicesOutOfRangeAreRefused() {
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () -> SubspaceSimilarity.subspaceSimilarity(a8(), 8, a64(), 64, 9, 1))
            .getMessage();
    assertTrue(m.contains("i must be between 1 and the rank 8, was 9"), m);
    m =
        assertThrows(
                IllegalArgumentException.class,
                () -> SubspaceSimilarity.subspaceSimilarity(a8(), 8, a64(), 64, 1, 0))
            .getMessage();
    assertTrue(m.contains("j must be between 1 and the rank 64, was 0"), m);
  }

  @Test
  void factorsOfDifferentWidthsAreRefused() {
    float[] narrow = new float[8 * 32];
    String m =
        assertThrows(
                IllegalArgumentException.class, () -> SubspaceSimilarity.phi(a8(), 8, narrow, 8))
            .getMessage();
    assertTrue(m.contains("same in"), m);
  }

  @Test
  void adaptersSharingNoModuleAreRefusedNamingBoth() {
    Path llama = Conformance.dir("llama-tiny").resolve("adapter");
    Path gpt2 = Conformance.dir("gpt2-tiny").resolve("adapter");
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () -> SubspaceSimilarity.compare(PeftAdapter.load(llama), PeftAdapter.load(gpt2)))
            .getMessage();
    assertTrue(m.contains(llama.toString()) && m.contains(gpt2.toString()), m);
    assertTrue(m.contains("share no module"), m);
    assertTrue(m.contains("model.layers.0.self_attn.q_proj"), m);
    assertTrue(m.contains("transformer.h.0.attn.c_attn"), m);
  }

  @Test
  void aModuleInOnlyOneAdapterIsNamed() {
    PeftAdapter gpt2 = PeftAdapter.load(Conformance.dir("gpt2-tiny").resolve("adapter"));
    PeftAdapter llama = PeftAdapter.load(Conformance.dir("llama-tiny").resolve("adapter"));
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () -> SubspaceSimilarity.compare(gpt2, llama, "transformer.h.1.mlp.c_proj"))
            .getMessage();
    assertTrue(m.contains("module transformer.h.1.mlp.c_proj: only " + gpt2.dir()), m);
  }

  @Test
  void aModuleWithDifferentShapesIsRefusedNamingAdaptersModuleAndShapes() {
    String module = "transformer.h.0.attn.c_attn";
    PeftAdapter gpt2 = PeftAdapter.load(Conformance.dir("gpt2-tiny").resolve("adapter"));
    // The same module name on a wider base: in 64 instead of 48.
    LoraFactors wide = new LoraFactors(module, 4, 64, 144, new float[4 * 64], new float[144 * 4]);
    for (int k = 0; k < 4; k++) {
      wide.a()[k * 64 + k] = 1;
    }
    Map<String, LoraFactors> factors = new LinkedHashMap<>();
    factors.put(module, wide);
    Path dir = tmp.resolve("wide");
    PeftAdapter.write(dir, factors, Map.of(module, 2.0), false, true, 0.0, "gpt2-wide");
    PeftAdapter other = PeftAdapter.load(dir);
    String m =
        assertThrows(IllegalArgumentException.class, () -> SubspaceSimilarity.compare(gpt2, other))
            .getMessage();
    assertTrue(m.contains(module), m);
    assertTrue(m.contains(gpt2.dir().toString()) && m.contains(dir.toString()), m);
    assertTrue(m.contains("[out 144, in 48]") && m.contains("[out 144, in 64]"), m);
  }

  @Test
  void anAWithADependentRowIsRefused() {
    float[] a = a8().clone();
    java.util.Arrays.fill(a, 2 * 64, 3 * 64, 0f);
    String m =
        assertThrows(IllegalArgumentException.class, () -> SubspaceSimilarity.phi(a, 8, a64(), 64))
            .getMessage();
    assertTrue(m.contains("A1 [8, 64] has exactly linearly dependent (or zero) rows"), m);
  }
}
