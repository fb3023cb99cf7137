package dev.lora4j.cli;

import dev.lora4j.bench.BenchConfig;
import dev.lora4j.bench.BenchRunner;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `lora4j bench`: step time, throughput and peak memory, each mode in its own JVM. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = {
      "Benchmarks forward passes, full fine-tuning and LoRA steps on a model with random weights,"
          + " each mode in its own JVM, and prints one line per mode and the ratios measured in"
          + " this run. A and B match the PyTorch reference's GPT-2 layouts: A (4 layers, d 256,"
          + " vocab 5000, seq 128, batch 8) and B (GPT-2 small, seq 128, batch 4); S is the Llama"
          + " layout at SmolLM-135M's shape (30 layers, d 576, 9 query and 3 key/value heads, vocab"
          + " 49152, seq 128, batch 4)."
    })
final class BenchCommand implements Callable<Integer> {
  @Option(
      names = "--config",
      defaultValue = "A",
      description = "A, B (GPT-2 layout) or S (Llama layout). Default: ${DEFAULT-VALUE}.")
  BenchConfig config;

  @Option(
      names = "--modes",
      defaultValue = "forward,full,lora,peak",
      split = ",",
      description =
          "forward, full, lora, merged (forward after merging an adapter), swap (adapter swap vs"
              + " base load), peak (this CPU's matmul GFLOP/s, for the fraction-of-peak ratios),"
              + " generate (ms per greedy token, 64 after a 32-token prompt, as `generate` runs)."
              + " Default: ${DEFAULT-VALUE}.")
  List<String> modes;

  @Option(
      names = "--precision",
      defaultValue = "f32",
      split = ",",
      description = "f32, bf16 or both (f32,bf16). Default: ${DEFAULT-VALUE}.")
  List<String> precisions;

  @Option(names = "--xla", description = "XLA auto-clustering.")
  boolean xla;

  @Option(
      names = "--seq-len",
      split = ",",
      description =
          "Sequence length (default: the config's 128); several (--seq-len 64,128,256) sweep it"
              + " and print a table of step times against the first.")
  List<Integer> seqLens;

  @Option(
      names = "--rank",
      defaultValue = "8",
      split = ",",
      description =
          "LoRA rank on the query and value projections (c_attn[q,v]; q_proj, v_proj); several"
              + " (--rank 4,8,16,64) sweep it. Default: ${DEFAULT-VALUE}.")
  List<Integer> ranks;

  @Option(
      names = "--profile",
      description =
          "Instead of timing, trace a few steps of each mode (TensorFlow step stats) and print the"
              + " op types and ops that cost the most.")
  boolean profile;

  @Option(
      names = "--reference",
      paramLabel = "pytorch",
      description =
          "Also time the PyTorch peer (f32 forward, full and LoRA of the same config, in the same"
              + " run) and print lora4j/PyTorch ratios. Needs python3 with torch (Debian:"
              + " apt-get install python3-torch libopenblas0-pthread).")
  String reference;

  @Option(
      names = "--rounds",
      defaultValue = "1",
      description =
          "Run every mode this many times, interleaved, and report each mode's median round"
              + " (steadier ratios on a shared machine). Default: ${DEFAULT-VALUE}.")
  int rounds;

  @Option(names = "--json", description = "JSON lines only.")
  boolean json;

  @Option(
      names = "--cache",
      defaultValue = "runs/bench-cache",
      description = "Where random checkpoints are kept. Default: ${DEFAULT-VALUE}.")
  Path cache;

  @Override
  public Integer call() throws Exception {
    for (String mode : modes) {
      if (!List.of("forward", "full", "lora", "merged", "swap", "peak", "generate")
          .contains(mode)) {
        throw new IllegalArgumentException(
            "--modes takes forward, full, lora, merged, swap, peak, generate; got '" + mode + "'");
      }
    }
    if (reference != null && !reference.equals("pytorch")) {
      throw new IllegalArgumentException(
          "--reference takes pytorch (the only peer), got '" + reference + "'");
    }
    for (String p : precisions) {
      CliParsing.precision(p);
    }
    // Checked here, before any child JVM starts: the children would fail inside the graph.
    int maxRank = config.maxRank();
    for (int rank : ranks) {
      if (rank < 1 || rank > maxRank) {
        throw new IllegalArgumentException(
            "--rank must be between 1 and "
                + maxRank
                + " (config "
                + config
                + "'s smallest adapted projection), was "
                + rank);
      }
    }
    int positions = config.model.maxPositions();
    for (int seqLen : seqLens == null ? List.of(config.seqLen) : seqLens) {
      if (seqLen < 2 || seqLen > positions) {
        throw new IllegalArgumentException(
            "--seq-len must be between 2 and "
                + positions
                + " (config "
                + config
                + "'s positions), was "
                + seqLen);
      }
    }
    if (rounds < 1) {
      throw new IllegalArgumentException("--rounds must be at least 1, was " + rounds);
    }
    if (profile) {
      for (String mode : modes) {
        for (String p : precisions) {
          dev.lora4j.bench.Profile.run(
              config,
              mode,
              CliParsing.precision(p),
              xla,
              cache,
              seqLens == null ? config.seqLen : seqLens.get(0),
              ranks.get(0),
              Integer.getInteger("lora4j.profile.top", 25),
              System.out);
        }
      }
      return 0;
    }
    List<Integer> lengths = seqLens == null ? List.of(config.seqLen) : seqLens;
    java.util.Map<String, List<dev.lora4j.bench.BenchResult>> sweep =
        new java.util.LinkedHashMap<>();
    for (int length : lengths) {
      for (int rank : ranks) {
        if (lengths.size() * ranks.size() > 1 && !json) {
          System.out.println("== seq " + length + ", rank " + rank);
        }
        sweep.put(
            length + " " + rank,
            BenchRunner.run(
                config,
                modes,
                precisions,
                xla,
                cache,
                length,
                rank,
                rounds,
                reference != null,
                System.out,
                json));
      }
    }
    if (sweep.size() > 1) {
      BenchRunner.printSweep(sweep, System.out, json);
    }
    return 0;
  }
}
