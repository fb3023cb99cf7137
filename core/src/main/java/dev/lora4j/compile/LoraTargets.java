package dev.lora4j.compile;

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
    LoraModuleSpec.LoraInit init =
        config.initName().equals("gaussian")
            ? LoraModuleSpec.LoraInit.GAUSSIAN
            : LoraModuleSpec.LoraInit.KAIMING_UNIFORM;
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
   * Resolves command-line target patterns: `all-linear`; a name suffix (`c_attn`, `mlp.c_proj`,
   * PEFT's list rule); a full-match regex when the pattern has regex characters
   * (`model\.layers\.[0-3]\..*_proj`); each optionally followed by slices of a fused projection in
   * brackets (`c_attn[q,v]`). Later patterns override earlier ones for the same module.
   */
  public static List<LoraModuleSpec> fromPatterns(
      List<String> patterns,
      int rank,
      double alpha,
      boolean rsLora,
      double dropout,
      LoraModuleSpec.LoraInit init,
      List<Projection> projections) {
    if (patterns.isEmpty()) {
      throw new IllegalArgumentException(
          "no --target given; name the projections to adapt, e.g. --target c_attn[q,v] or"
              + " --target q_proj --target v_proj, or --target all-linear");
    }
    java.util.Map<String, LoraModuleSpec> chosen = new java.util.LinkedHashMap<>();
    double scale = rsLora ? alpha / Math.sqrt(rank) : alpha / rank;
    for (String raw : patterns) {
      String pattern = raw.trim();
      List<String> slices = List.of();
      java.util.regex.Matcher sliced =
          java.util.regex.Pattern.compile("^(.*)\\[([a-z,\\s]+)\\]$").matcher(pattern);
      if (sliced.matches() && !sliced.group(1).isEmpty()) {
        pattern = sliced.group(1);
        slices = java.util.Arrays.stream(sliced.group(2).split(",")).map(String::trim).toList();
      }
      java.util.function.Predicate<String> matches = matcher(pattern, raw);
      int matched = 0;
      for (Projection p : projections) {
        if (!matches.test(p.name())) {
          continue;
        }
        matched++;
        if (!slices.isEmpty()) {
          for (String slice : slices) {
            if (p.slice(slice) == null) {
              throw new IllegalArgumentException(
                  "target '"
                      + raw
                      + "': "
                      + p.name()
                      + " has no slice '"
                      + slice
                      + "'; "
                      + (p.slices().isEmpty()
                          ? "only fused projections (GPT-2's c_attn: q, k, v) have slices"
                          : "its slices are "
                              + p.slices().stream().map(Projection.Slice::name).toList()));
            }
          }
        }
        chosen.put(
            p.name(),
            new LoraModuleSpec(p.name(), rank, alpha, scale, dropout, init, slices, rsLora));
      }
      if (matched == 0) {
        throw new IllegalArgumentException(
            "target '"
                + raw
                + "' matches no projection of this model. "
                + describeNames(projections, pattern));
      }
    }
    List<LoraModuleSpec> ordered = new ArrayList<>();
    for (Projection p : projections) {
      if (chosen.containsKey(p.name())) {
        ordered.add(chosen.get(p.name()));
      }
    }
    return ordered;
  }

  private static java.util.function.Predicate<String> matcher(String pattern, String raw) {
    if (pattern.equals("all-linear")) {
      return name -> true;
    }
    if (pattern.matches(".*[\\\\^$*+?()\\[\\]{}|].*")) {
      java.util.regex.Pattern regex;
      try {
        regex = java.util.regex.Pattern.compile(pattern);
      } catch (java.util.regex.PatternSyntaxException e) {
        throw new IllegalArgumentException(
            "target '"
                + raw
                + "' is not a valid regex: "
                + e.getDescription()
                + " (a plain name such as q_proj is matched as a suffix)");
      }
      return name -> regex.matcher(name).matches();
    }
    return name -> name.equals(pattern) || name.endsWith("." + pattern);
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
