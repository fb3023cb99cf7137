package dev.lora4j.compile;

import dev.lora4j.dsl.AdapterDefaults;
import dev.lora4j.dsl.LoraPlan;
import dev.lora4j.dsl.ProjectionInfo;
import dev.lora4j.dsl.ResolvedTarget;
import dev.lora4j.dsl.peft.PeftLoraConfig;
import dev.lora4j.model.Projection;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Resolves target selections against an architecture's projections, with named errors. */
public final class LoraTargets {
  private LoraTargets() {}

  /**
   * The modules PEFT would adapt under this config, with their own rank, alpha and scale.
   *
   * @throws IllegalArgumentException if nothing matches (listing the names that exist) or a rank
   *     does not fit its module
   */
  public static List<LoraModuleSpec> resolve(PeftLoraConfig config, List<Projection> projections) {
    dev.lora4j.dsl.LoraInit init =
        config.initName().equals("gaussian")
            ? dev.lora4j.dsl.LoraInit.GAUSSIAN
            : dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM;
    List<LoraModuleSpec> specs = new ArrayList<>();
    for (Projection p : projections) {
      if (config.selects(p.name())) {
        int rank = config.rankFor(p.name());
        checkRank(p, rank, p.out());
        specs.add(
            new LoraModuleSpec(
                p.name(),
                rank,
                config.alphaFor(p.name()),
                config.scaleFor(p.name()),
                config.getLoraDropout(),
                init,
                List.of(),
                config.getUseRslora()));
      }
    }
    if (specs.isEmpty()) {
      throw new IllegalArgumentException(
          "target_modules "
              + config.getTargetModules()
              + " matches no projection of this model. "
              + describeNames(projections, String.valueOf(config.getTargetModules())));
    }
    return specs;
  }

  /**
   * Resolves command-line target patterns with the plan language's rules ({@link
   * dev.lora4j.dsl.Targets#parseTargetPattern}): `all-linear`, a name suffix (`c_attn`,
   * `mlp.c_proj`), a full-match regex, each optionally with slices of a fused projection
   * (`c_attn[q,v]`).
   */
  public static List<LoraModuleSpec> fromPatterns(
      List<String> patterns,
      int rank,
      double alpha,
      boolean rsLora,
      double dropout,
      dev.lora4j.dsl.LoraInit init,
      List<Projection> projections) {
    if (patterns.isEmpty()) {
      throw new IllegalArgumentException(
          "no --target given; name the projections to adapt, e.g. --target c_attn[q,v] or"
              + " --target q_proj --target v_proj, or --target all-linear");
    }
    LoraPlan.Builder plan =
        LoraPlan.builder("cli").defaults(new AdapterDefaults(rank, alpha, dropout, init, rsLora));
    for (String pattern : patterns) {
      plan.target(pattern);
    }
    return fromPlan(plan.build(), projections);
  }

  /** The specs a plan's targets give on an architecture's projections. */
  public static List<LoraModuleSpec> fromPlan(LoraPlan plan, List<Projection> projections) {
    List<ResolvedTarget> resolved = plan.resolve(projectionInfos(projections));
    boolean rsLora = plan.getDefaults().getRsLora();
    List<LoraModuleSpec> specs = new ArrayList<>();
    for (ResolvedTarget t : resolved) {
      specs.add(
          new LoraModuleSpec(
              t.getModule(),
              t.getRank(),
              t.getAlpha(),
              t.getScale(),
              t.getDropout(),
              t.getInit(),
              t.getSlices(),
              rsLora));
    }
    return specs;
  }

  /** The plan language's view of the projections (names, shapes, slices, layers). */
  public static List<ProjectionInfo> projectionInfos(List<Projection> projections) {
    List<ProjectionInfo> infos = new ArrayList<>();
    for (Projection p : projections) {
      infos.add(
          new ProjectionInfo(
              p.name(),
              p.in(),
              p.out(),
              p.slices().stream().map(Projection.Slice::name).toList(),
              p.layerIndex()));
    }
    return infos;
  }

  /** Rank must be between 1 and min(in, out) of the adapted module (or slice). */
  public static void checkRank(Projection p, int rank, int out) {
    int max = Math.min(p.in(), out);
    if (rank < 1 || rank > max) {
      throw new IllegalArgumentException(
          "rank must be between 1 and "
              + max
              + " for "
              + p.name()
              + " (in "
              + p.in()
              + ", out "
              + out
              + "), was "
              + rank);
    }
  }

  /** "Projections of this model: ...; closest to 'x': ..." for target errors. */
  public static String describeNames(List<Projection> projections, String wanted) {
    List<String> suffixes = new ArrayList<>();
    for (Projection p : projections) {
      String[] parts = p.name().split("\\.");
      String suffix =
          parts.length >= 2 ? parts[parts.length - 2] + "." + parts[parts.length - 1] : p.name();
      if (!suffixes.contains(suffix)) {
        suffixes.add(suffix);
      }
    }
    String first = projections.isEmpty() ? "" : projections.get(0).name();
    List<String> closest = new ArrayList<>(suffixes);
    String needle = wanted.replaceAll("[\\[\\]\"]", "");
    closest.sort(Comparator.comparingInt(s -> editDistance(lastPart(s), needle)));
    return "Projection names end in: "
        + String.join(", ", suffixes)
        + " (full names look like "
        + first
        + "); closest to "
        + needle
        + ": "
        + String.join(", ", closest.subList(0, Math.min(3, closest.size())));
  }

  private static String lastPart(String s) {
    return s.substring(s.lastIndexOf('.') + 1);
  }

  static int editDistance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
