package dev.lora4j.cli;

import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.analysis.SubspaceSimilarity;
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
import kotlinx.serialization.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * `lora4j compare`: how much two adapters' input subspaces overlap, per module (the LoRA paper's φ
 * on the lora_A factors).
 */
@Command(
    name = "compare",
    mixinStandardHelpOptions = true,
    description = {
      "Compares two PEFT LoRA adapters module by module: phi(i, j) = ||U_i^T U'_j||_F^2 / min(i,"
          + " j), where U_i holds the top-i right-singular vectors of the first adapter's lora_A"
          + " and U'_j those of the second's (the LoRA paper, section 7.2). 1 means one subspace"
          + " contains the other. The summary is the mean of phi(k, k) for k = 1..min(r, r');"
          + " unrelated random subspaces give about (min(r, r') + 1) / (2 in), printed as the"
          + " random baseline."
    })
final class CompareCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--adapter",
      required = true,
      paramLabel = "DIR",
      description = "A PEFT adapter; give exactly two.")
  List<Path> adapters;

  @Option(names = "--module", paramLabel = "NAME", description = "Compare only this module.")
  String module;

  @Option(names = "--json", description = "Print one JSON object.")
  boolean json;

  @Override
  public Integer call() {
    if (adapters.size() != 2) {
      throw new ParameterException(
          spec.commandLine(),
          "give --adapter exactly twice (the two adapters to compare), got " + adapters.size());
    }
    PeftAdapter first = PeftAdapter.load(adapters.get(0));
    PeftAdapter second = PeftAdapter.load(adapters.get(1));
    Map<String, SubspaceSimilarity> result =
        module == null
            ? SubspaceSimilarity.compare(first, second)
            : Map.of(module, SubspaceSimilarity.compare(first, second, module));
    List<String> onlyFirst = new ArrayList<>();
    List<String> onlySecond = new ArrayList<>();
    if (module == null) {
      first.modules().keySet().stream()
          .filter(m -> !second.modules().containsKey(m))
          .forEach(onlyFirst::add);
      second.modules().keySet().stream()
          .filter(m -> !first.modules().containsKey(m))
          .forEach(onlySecond::add);
    }
    double mean =
        result.values().stream().mapToDouble(SubspaceSimilarity::summary).average().orElse(0);
    if (json) {
      List<JsonElement> modules = new ArrayList<>();
      for (SubspaceSimilarity s : result.values()) {
        Map<String, JsonElement> m = new LinkedHashMap<>();
        m.put("name", JsonElementKt.JsonPrimitive(s.module()));
        m.put("rank_a", JsonElementKt.JsonPrimitive(s.rankA()));
        m.put("rank_b", JsonElementKt.JsonPrimitive(s.rankB()));
        m.put("in", JsonElementKt.JsonPrimitive(s.in()));
        List<JsonElement> rows = new ArrayList<>();
        for (double[] row : s.phi()) {
          rows.add(InspectCommand.numbers(row));
        }
        m.put("phi", new JsonArray(rows));
        m.put("summary", InspectCommand.number(s.summary()));
        m.put("random_baseline", InspectCommand.number(s.randomBaseline()));
        modules.add(new JsonObject(m));
      }
      Map<String, JsonElement> o = new LinkedHashMap<>();
      o.put("adapter_a", JsonElementKt.JsonPrimitive(first.dir().toString()));
      o.put("adapter_b", JsonElementKt.JsonPrimitive(second.dir().toString()));
      o.put(
          "summary_definition",
          JsonElementKt.JsonPrimitive("mean of phi(k, k) for k = 1..min(rank_a, rank_b)"));
      o.put("mean_summary", InspectCommand.number(mean));
      o.put("modules", new JsonArray(modules));
      o.put("only_in_a", strings(onlyFirst));
      o.put("only_in_b", strings(onlySecond));
      System.out.println(new JsonObject(o));
      return 0;
    }
    System.out.printf(Locale.ROOT, "a: %s%nb: %s%n", first.dir(), second.dir());
    System.out.println(
        "phi(i, j) = ||U_i^T U'_j||_F^2 / min(i, j) on the lora_A row spaces; rows i (a), columns"
            + " j (b)");
    for (SubspaceSimilarity s : result.values()) {
      System.out.printf(
          Locale.ROOT,
          "%n%s  rank %d vs %d  summary %.4f (random subspaces: %.4f)%n",
          s.module(),
          s.rankA(),
          s.rankB(),
          s.summary(),
          s.randomBaseline());
      StringBuilder header = new StringBuilder("     ");
      for (int j = 1; j <= s.rankB(); j++) {
        header.append(String.format(Locale.ROOT, " %6s", "j=" + j));
      }
      System.out.println(header);
      for (int i = 1; i <= s.rankA(); i++) {
        StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%5s", "i=" + i));
        for (double v : s.phi()[i - 1]) {
          row.append(String.format(Locale.ROOT, " %6.4f", v));
        }
        System.out.println(row);
      }
    }
    System.out.printf(Locale.ROOT, "%nmean summary over %d modules: %.4f%n", result.size(), mean);
    if (!onlyFirst.isEmpty() || !onlySecond.isEmpty()) {
      System.out.println("not compared: only in a " + onlyFirst + ", only in b " + onlySecond);
    }
    return 0;
  }

  private static JsonArray strings(List<String> values) {
    return new JsonArray(
        values.stream().map(v -> (JsonElement) JsonElementKt.JsonPrimitive(v)).toList());
  }
}
