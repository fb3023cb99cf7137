package dev.lora4j.cli;

import dev.lora4j.adapter.Combiner;
import dev.lora4j.adapter.LoraFactors;
import dev.lora4j.adapter.Merger;
import dev.lora4j.adapter.PeftAdapter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `lora4j adapters ...`: operations on adapter files. */
@Command(
    name = "adapters",
    mixinStandardHelpOptions = true,
    description = "Operations on PEFT adapter directories.",
    subcommands = {AdaptersCommand.Combine.class})
final class AdaptersCommand {

  /** `lora4j adapters combine`: one adapter from several trained on the same base. */
  @Command(
      name = "combine",
      mixinStandardHelpOptions = true,
      description =
          "Combines adapters trained on the same base, as PEFT's add_weighted_adapter: linear"
              + " (same targets and ranks), cat (ranks add up; exact weighted sum of the updates) or"
              + " svd (the weighted sum truncated to --rank).")
  static final class Combine implements Callable<Integer> {
    enum Method {
      linear,
      cat,
      svd
    }

    @Option(
        names = "--adapter",
        required = true,
        paramLabel = "DIR",
        description = "Repeat for each adapter.")
    List<Path> adapters;

    @Option(
        names = "--weights",
        split = ",",
        paramLabel = "W1,W2,...",
        description = "One weight per adapter (default: all 1).")
    List<Double> weights;

    @Option(
        names = "--method",
        defaultValue = "cat",
        description = "linear, cat or svd. Default: ${DEFAULT-VALUE}.")
    Method method;

    @Option(
        names = "--rank",
        defaultValue = "8",
        description = "Rank of the svd result. Default: ${DEFAULT-VALUE}.")
    int rank;

    @Option(
        names = "--out",
        required = true,
        paramLabel = "DIR",
        description = "New adapter directory.")
    Path out;

    @Option(names = "--force", description = "Overwrite files in a non-empty --out directory.")
    boolean force;

    @Override
    public Integer call() {
      List<PeftAdapter> loaded = new ArrayList<>();
      for (Path p : adapters) {
        loaded.add(PeftAdapter.load(p));
      }
      double[] w = new double[loaded.size()];
      for (int i = 0; i < w.length; i++) {
        w[i] = weights == null ? 1.0 : weights.get(Math.min(i, weights.size() - 1));
      }
      if (weights != null && weights.size() != loaded.size()) {
        throw new IllegalArgumentException(
            "--weights has " + weights.size() + " values for " + loaded.size() + " adapters");
      }
      Map<String, LoraFactors> combined =
          Combiner.combine(loaded, w, Combiner.Method.valueOf(method.name().toUpperCase()), rank);
      Merger.prepareOutput(out, force);
      Combiner.save(combined, loaded.get(0), out);
      System.out.println(
          "wrote " + method + " combination of " + loaded.size() + " adapters to " + out);
      return 0;
    }
  }
}
