package dev.lora4j.cli;

import dev.lora4j.io.AtomicFiles;
import dev.lora4j.train.TrainingReport;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonObject;

/** report.json of a training run. */
final class RunReports {
  private RunReports() {}

  static JsonObject toJson(TrainingReport report) {
    Map<String, JsonElement> json = new LinkedHashMap<>();
    json.put("steps", JsonElementKt.JsonPrimitive(report.steps()));
    json.put("trainable_params", JsonElementKt.JsonPrimitive(report.trainableParams()));
    json.put("step_ms_median", number(report.stepMillisMedian()));
    json.put("tokens_per_s", number(report.tokensPerSecond()));
    json.put("final_validation_loss", number(report.finalValidationLoss()));
    json.put("final_validation_ppl", number(Math.exp(report.finalValidationLoss())));
    json.put("stop_reason", JsonElementKt.JsonPrimitive(report.stopReason()));
    List<JsonElement> losses = new ArrayList<>();
    for (double l : report.losses()) {
      losses.add(number(l));
    }
    json.put("losses", new JsonArray(losses));
    List<JsonElement> evals = new ArrayList<>();
    for (double[] v : report.validation()) {
      evals.add(new JsonArray(List.of(number(v[0]), number(v[1]))));
    }
    json.put("validation", new JsonArray(evals));
    return new JsonObject(json);
  }

  static void write(Path file, TrainingReport report) {
    AtomicFiles.writeString(file, toJson(report).toString() + "\n");
  }

  static JsonElement number(double v) {
    return JsonElementKt.JsonPrimitive(Double.isFinite(v) ? v : null);
  }
}
