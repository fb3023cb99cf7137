package dev.lora4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What the bench prints from its measurements: FLOP counts, the JSON lines, ratios and sweep
 * tables. Timing itself is never asserted (the machines are shared and noisy).
 */
class BenchReportTest {
  static BenchResult result(String config, String mode, String precision, double ms, double rss) {
    return new BenchResult(
        config, mode, precision, false, ms, ms * 0.9, 1000 / ms, rss, 100, 10, 5, Double.NaN, 50);
  }

  static String printed(java.util.function.Consumer<PrintStream> body) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    body.accept(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  void stepFlopsCountProjectionsHeadAndAttentionOfGpt2Small() {
    // B, seq 128, batch 4: 12 layers of 768x2304 + 768x768 + 2 x 768x3072 weights over 512 tokens,
    // the tied head over 4 x 127 scored rows, and QK^T + PV over 128 x 128 per layer.
    double projections = 2.0 * 512 * (768 * 2304 + 768 * 768 + 2 * 768 * 3072) * 12;
    double head = 2.0 * 508 * 768 * 50257;
    double attention = 12 * 2 * (2.0 * 4 * 128 * 128 * 768);
    double forward = projections + head + attention;
    assertEquals(forward, MatmulPeak.stepFlops(BenchConfig.B, 128, "forward"), 1);
    assertEquals(2 * forward, MatmulPeak.stepFlops(BenchConfig.B, 128, "lora"), 1);
    assertEquals(3 * forward, MatmulPeak.stepFlops(BenchConfig.B, 128, "full"), 1);
    assertTrue(Double.isNaN(MatmulPeak.stepFlops(BenchConfig.B, 128, "swap")));
    assertEquals(128.6e9, forward, 0.1e9); // the ~129 GFLOP a GPT-2-small forward costs here
  }

  @Test
  void stepFlopsAndAdaptersOfTheLlamaConfigFollowItsOwnProjections() {
    // S, seq 128, batch 4: 30 layers of q 576x576, k and v 576x192 (3 kv heads of 64), o 576x576,
    // gate and up 576x1536, down 1536x576; the tied head over 4 x 127 rows; attention over 9 x 64.
    double perLayer = 2 * 576 * 576 + 2 * 576 * 192 + 3 * 576 * 1536;
    double forward =
        2.0 * 512 * perLayer * 30 + 2.0 * 508 * 576 * 49152 + 30 * 2 * (2.0 * 4 * 128 * 128 * 576);
    assertEquals(forward, MatmulPeak.stepFlops(BenchConfig.S, 128, "forward"), 1);
    assertEquals(2 * forward, MatmulPeak.stepFlops(BenchConfig.S, 128, "lora"), 1);
    assertEquals(192, BenchConfig.S.maxRank()); // v_proj's out
    assertEquals(256, BenchConfig.A.maxRank()); // a c_attn slice's out
    var specs = BenchMode.qvSpecs(BenchConfig.S.projections(), 8);
    assertEquals(60, specs.size());
    assertEquals("model.layers.0.self_attn.q_proj", specs.get(0).module());
    assertEquals("model.layers.0.self_attn.v_proj", specs.get(1).module());
    assertTrue(specs.stream().noneMatch(s -> s.sliced()));
    var gpt2 = BenchMode.qvSpecs(BenchConfig.A.projections(), 8);
    assertEquals(4, gpt2.size());
    assertEquals(List.of("q", "v"), gpt2.get(0).slices());
  }

  @Test
  void jsonLinesRoundTripWithAndWithoutOptionalFields() {
    BenchResult r = result("A", "lora", "bf16", 123.45, 650);
    assertEquals(r.toJson(), BenchResult.fromJson(r.toJson()).toJson());
    assertTrue(r.toJson().contains("\"gflops\":50.0"), r.toJson());
    assertTrue(!r.toJson().contains("base_load_ms"), r.toJson());
    // The PyTorch script's line has neither config nor xla.
    BenchResult peer =
        BenchResult.fromJson(
            "{\"mode\": \"lora\", \"precision\": \"f32\", \"step_ms_median\": 200.0,"
                + " \"step_ms_min\": 190.0, \"tokens_per_s\": 5120.0, \"peak_rss_mb\": 500.0,"
                + " \"params_total\": 4734464, \"params_trainable\": 32768, \"steps\": 20,"
                + " \"torch\": \"1.13.0a0\"}");
    assertEquals(200.0, peer.stepMsMedian());
    assertEquals(32768, peer.paramsTrainable());
    assertTrue(Double.isNaN(peer.gflops()));
  }

  @Test
  void ratiosComparePrecisionsModesThePeakAndThePeer() {
    List<BenchResult> ours =
        List.of(
            result("A", "full", "f32", 200, 1000),
            result("A", "lora", "f32", 150, 600),
            new BenchResult("A", "peak", "f32", false, 0, 0, 0, 400, 0, 0, 10, Double.NaN, 200));
    List<BenchResult> peers = List.of(result("A pytorch", "lora", "f32", 300, 500));
    String out = printed(o -> BenchRunner.printRatios(ours, peers, o, false));
    assertTrue(out.contains("ratio: f32 LoRA/full step time 0.750, peak RSS 0.600"), out);
    assertTrue(
        out.contains(
            "f32 lora step reaches 0.250 of the measured f32 matmul peak (50 of 200 GFLOP/s; its"
                + " matrix products alone need 37.5 ms at that peak)"),
        out);
    assertTrue(out.contains("lora4j f32 / PyTorch f32 lora step time 0.500, peak RSS 1.200"), out);
  }

  @Test
  void sweepTableIsRelativeToTheFirstPoint() {
    Map<String, List<BenchResult>> sweep = new LinkedHashMap<>();
    sweep.put("64 8", List.of(result("A", "lora", "f32", 100, 600)));
    sweep.put("128 8", List.of(result("A", "lora", "f32", 250, 600)));
    String out = printed(o -> BenchRunner.printSweep(sweep, o, false));
    assertTrue(out.contains("sweep:   128    8 lora    f32      250.0     2.50"), out);
  }
}
