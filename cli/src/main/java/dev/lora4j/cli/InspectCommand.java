package dev.lora4j.cli;

import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.analysis.Amplification;
import dev.lora4j.analysis.ModuleSpectrum;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonNull;
import kotlinx.serialization.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `lora4j inspect`: what an adapter learned, per module, from its factors: the singular values of
 * ΔW = scale·B·A, its effective rank, its norms and, given the base, its amplification factor.
 */
@Command(
    name = "inspect",
    mixinStandardHelpOptions = true,
    description = {
      "Prints, for every module of a PEFT LoRA adapter, the singular values of its update"
          + " dW = scale * B A, two effective ranks (exp of the spectral entropy; the number of"
          + " singular values holding 90%% of the energy), its Frobenius and spectral norms. With"
          + " --model, also the LoRA paper's amplification factor ||dW||_F / ||U^T W V||_F against"
          + " the base weight W. Computed from the factors: no d x d matrix is formed."
    })
final class InspectCommand implements Callable<Integer> {
  /** Singular values shown per module in the table; --json has all. */
  private static final int SHOWN_VALUES = 8;

  @Option(names = "--adapter", required = true, paramLabel = "DIR", description = "PEFT adapter.")
  Path adapter;

  @Option(
      names = "--model",
      paramLabel = "DIR",
      description = "The base checkpoint, for the amplification factor.")
  Path model;

  @Option(names = "--json", description = "Print one JSON object.")
  boolean json;

  @Override
  public Integer call() {
    PeftAdapter peft = PeftAdapter.load(adapter);
    Map<String, ModuleSpectrum> spectra = ModuleSpectrum.of(peft);
    Map<String, Amplification> amplification = Map.of();
    if (model != null) {
      try (Checkpoint checkpoint = Checkpoint.open(model)) {
        amplification = Amplification.of(peft, checkpoint);
      }
    }
    if (json) {
      printJson(spectra, amplification);
    } else {
      printTable(spectra, amplification);
    }
    return 0;
  }

  private void printJson(
      Map<String, ModuleSpectrum> spectra, Map<String, Amplification> amplification) {
    List<JsonElement> modules = new ArrayList<>();
    for (ModuleSpectrum s : spectra.values()) {
      Map<String, JsonElement> m = new LinkedHashMap<>();
      m.put("name", JsonElementKt.JsonPrimitive(s.module()));
      m.put("rank", JsonElementKt.JsonPrimitive(s.rank()));
      m.put("in", JsonElementKt.JsonPrimitive(s.in()));
      m.put("out", JsonElementKt.JsonPrimitive(s.out()));
      m.put("scale", number(s.scale()));
      m.put("singular_values", numbers(s.singularValues()));
      Map<String, JsonElement> rank = new LinkedHashMap<>();
      rank.put("entropy", number(s.entropyRank()));
      rank.put("energy_90", JsonElementKt.JsonPrimitive(s.energyRank()));
      m.put("effective_rank", new JsonObject(rank));
      m.put("frobenius", number(s.frobenius()));
      m.put("spectral", number(s.spectral()));
      Amplification a = amplification.get(s.module());
      if (a != null) {
        Map<String, JsonElement> amp = new LinkedHashMap<>();
        amp.put("ratio", number(a.ratio()));
        amp.put("dw_frobenius", number(a.deltaFrobenius()));
        amp.put("utwv_frobenius", number(a.projectedFrobenius()));
        m.put("amplification", new JsonObject(amp));
      }
      modules.add(new JsonObject(m));
    }
    Map<String, JsonElement> o = new LinkedHashMap<>();
    o.put("adapter", JsonElementKt.JsonPrimitive(adapter.toString()));
    if (model != null) {
      o.put("model", JsonElementKt.JsonPrimitive(model.toString()));
    }
    o.put("modules", new JsonArray(modules));
    System.out.println(new JsonObject(o));
  }

  private void printTable(
      Map<String, ModuleSpectrum> spectra, Map<String, Amplification> amplification) {
    int width = "module".length();
    for (String name : spectra.keySet()) {
      width = Math.max(width, name.length());
    }
    boolean amp = !amplification.isEmpty();
    System.out.printf(Locale.ROOT, "adapter %s: %d modules%n", adapter, spectra.size());
    String header =
        String.format(
            Locale.ROOT,
            "%-" + width + "s %4s %7s %10s %10s %8s %6s%s  %s",
            "module",
            "rank",
            "scale",
            "frobenius",
            "spectral",
            "erank",
            "r90%",
            amp ? String.format(Locale.ROOT, " %13s", "amplification") : "",
            "singular values");
    System.out.println(header);
    for (ModuleSpectrum s : spectra.values()) {
      StringBuilder values = new StringBuilder();
      for (int k = 0; k < Math.min(SHOWN_VALUES, s.singularValues().length); k++) {
        values
            .append(k == 0 ? "" : " ")
            .append(String.format(Locale.ROOT, "%.4g", s.singularValues()[k]));
      }
      if (s.singularValues().length > SHOWN_VALUES) {
        values.append(" ... (").append(s.singularValues().length).append(" in all)");
      }
      System.out.printf(
          Locale.ROOT,
          "%-" + width + "s %4d %7.3f %10.4g %10.4g %8.3f %6d%s  %s%n",
          s.module(),
          s.rank(),
          s.scale(),
          s.frobenius(),
          s.spectral(),
          s.entropyRank(),
          s.energyRank(),
          amp ? String.format(Locale.ROOT, " %13.4g", amplification.get(s.module()).ratio()) : "",
          values);
    }
    System.out.println(
        "erank: exp of the entropy of s_i / sum(s); r90%: singular values holding 90% of sum(s^2)"
            + (amp ? "; amplification: ||dW||_F / ||U^T W V||_F" : ""));
  }

  /** A JSON number, or null for NaN and infinities, which JSON cannot hold. */
  static JsonElement number(double value) {
    return Double.isFinite(value) ? JsonElementKt.JsonPrimitive(value) : JsonNull.INSTANCE;
  }

  static JsonArray numbers(double[] values) {
    List<JsonElement> out = new ArrayList<>(values.length);
    for (double v : values) {
      out.add(number(v));
    }
    return new JsonArray(out);
  }
}
