package dev.lora4j.bench;

import java.util.LinkedHashMap;
import java.util.Map;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonObject;
import kotlinx.serialization.json.JsonPrimitive;

/**
 * One mode's measurement, printed as one JSON line.
 *
 * @param gflops matmul GFLOP/s: for a timed mode its step's matmul FLOPs ({@link
 *     MatmulPeak#stepFlops}) over the median step time; for the peak mode the best plain MatMul;
 *     NaN where it does not apply
 * @param baseLoadMs the swap mode's base load time; NaN for the others
 */
public record BenchResult(
    String config,
    String mode,
    String precision,
    boolean xla,
    double stepMsMedian,
    double stepMsMin,
    double tokensPerS,
    double peakRssMb,
    long paramsTotal,
    long paramsTrainable,
    int steps,
    double baseLoadMs,
    double gflops) {

  public String toJson() {
    Map<String, JsonElement> m = new LinkedHashMap<>();
    m.put("config", JsonElementKt.JsonPrimitive(config));
    m.put("mode", JsonElementKt.JsonPrimitive(mode));
    m.put("precision", JsonElementKt.JsonPrimitive(precision));
    m.put("xla", JsonElementKt.JsonPrimitive(xla));
    m.put("step_ms_median", JsonElementKt.JsonPrimitive(round(stepMsMedian)));
    m.put("step_ms_min", JsonElementKt.JsonPrimitive(round(stepMsMin)));
    m.put(
        "tokens_per_s",
        JsonElementKt.JsonPrimitive(Double.isNaN(tokensPerS) ? 0 : round(tokensPerS)));
    m.put("peak_rss_mb", JsonElementKt.JsonPrimitive(round(peakRssMb)));
    m.put("params_total", JsonElementKt.JsonPrimitive(paramsTotal));
    m.put("params_trainable", JsonElementKt.JsonPrimitive(paramsTrainable));
    m.put("steps", JsonElementKt.JsonPrimitive(steps));
    if (!Double.isNaN(baseLoadMs)) {
      m.put("base_load_ms", JsonElementKt.JsonPrimitive(round(baseLoadMs)));
    }
    if (!Double.isNaN(gflops)) {
      m.put("gflops", JsonElementKt.JsonPrimitive(round(gflops)));
    }
    return new JsonObject(m).toString();
  }

  static double round(double v) {
    return Math.round(v * 10) / 10.0;
  }

  public static BenchResult fromJson(String line) {
    JsonObject o = (JsonObject) kotlinx.serialization.json.Json.Default.parseToJsonElement(line);
    return new BenchResult(
        o.containsKey("config") ? s(o, "config") : "",
        s(o, "mode"),
        s(o, "precision"),
        o.containsKey("xla") && Boolean.parseBoolean(s(o, "xla")),
        d(o, "step_ms_median"),
        d(o, "step_ms_min"),
        d(o, "tokens_per_s"),
        d(o, "peak_rss_mb"),
        (long) d(o, "params_total"),
        (long) d(o, "params_trainable"),
        (int) d(o, "steps"),
        o.containsKey("base_load_ms") ? d(o, "base_load_ms") : Double.NaN,
        o.containsKey("gflops") ? d(o, "gflops") : Double.NaN);
  }

  private static String s(JsonObject o, String k) {
    return ((JsonPrimitive) o.get(k)).getContent();
  }

  private static double d(JsonObject o, String k) {
    return Double.parseDouble(s(o, k));
  }
}
