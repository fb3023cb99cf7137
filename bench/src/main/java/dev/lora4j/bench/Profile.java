package dev.lora4j.bench;

import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.LoraModuleSpec;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.model.Checkpoint;
import dev.lora4j.train.TrainingGraph;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.proto.StepStats;
import org.tensorflow.types.TInt32;

/**
 * Where a step's time goes: runs a few warm-up steps, then traced steps (TensorFlow's step stats),
 * and prints the op types, and the single ops, that cost the most. Op times overlap when TensorFlow
 * runs ops in parallel, so shares are of the summed op time, not of the wall clock.
 */
public final class Profile {
  private Profile() {}

  /** Op time summed over the traced steps, by op type and by node. */
  record Totals(Map<String, long[]> byType, Map<String, long[]> byNode, double wallMillis) {}

  public static void run(
      BenchConfig config,
      String mode,
      CompileOptions.Precision precision,
      boolean xla,
      Path cacheDir,
      int seqLen,
      int rank,
      int top,
      PrintStream out) {
    Path dir = BenchMode.checkpoint(config, cacheDir);
    int[][] ids = BenchMode.fixedBatch(config, seqLen);
    float[][] mask = BenchMode.fullMask(ids);
    CompileOptions options = BenchMode.options(mode, precision, xla);
    int traced = 3;
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      List<LoraModuleSpec> specs = BenchMode.specs(mode, checkpoint, rank);
      try (CompiledModel model = ModelCompiler.compile(checkpoint, specs, options)) {
        List<RunMetadata> traces = new ArrayList<>();
        long t0;
        if (mode.equals("forward")) {
          for (int i = 0; i < 3; i++) {
            model.loss(ids);
          }
          t0 = System.nanoTime();
          for (int i = 0; i < traced; i++) {
            try (TInt32 input = CompiledModel.idsTensor(ids);
                Result r =
                    model
                        .session()
                        .runner()
                        .feed(model.inputIdsPlaceholder(), input)
                        .fetch(model.lossOp())
                        .setOptions(
                            RunOptions.newBuilder()
                                .setTraceLevel(RunOptions.TraceLevel.FULL_TRACE)
                                .build())
                        .runAndFetchMetadata()) {
              traces.add(r.getMetadata().orElseThrow());
            }
          }
        } else if (mode.equals("full") || mode.equals("lora")) {
          TrainingGraph graph = BenchMode.trainingGraph(model, mode, 100);
          for (int i = 0; i < 3; i++) {
            graph.step(List.<int[][]>of(ids), List.<float[][]>of(mask), 0);
          }
          t0 = System.nanoTime();
          for (int i = 0; i < traced; i++) {
            traces.add(graph.tracedStep(ids, mask));
          }
        } else {
          throw new IllegalArgumentException(
              "--profile takes the modes forward, full and lora; got '" + mode + "'");
        }
        double wall = (System.nanoTime() - t0) / 1e6 / traced;
        Totals totals = totals(traces, model, wall);
        print(config, mode, precision, xla, totals, traced, top, out);
      }
    }
  }

  static Totals totals(List<RunMetadata> traces, CompiledModel model, double wallMillis) {
    Map<String, long[]> byType = new LinkedHashMap<>();
    Map<String, long[]> byNode = new LinkedHashMap<>();
    for (RunMetadata md : traces) {
      StepStats stats = md.getStepStats();
      for (var device : stats.getDevStatsList()) {
        for (NodeExecStats node : device.getNodeStatsList()) {
          long micros = node.getOpEndRelMicros() - node.getOpStartRelMicros();
          String name = node.getNodeName();
          String type = opType(model, name, node.getTimelineLabel());
          byType.computeIfAbsent(type, k -> new long[2])[0] += micros;
          byType.get(type)[1]++;
          byNode.computeIfAbsent(name + " (" + type + ")", k -> new long[2])[0] += micros;
          byNode.get(name + " (" + type + ")")[1]++;
        }
      }
    }
    return new Totals(byType, byNode, wallMillis);
  }

  /** The graph's op type for a node; grappler-made nodes are named by their timeline label. */
  private static String opType(CompiledModel model, String name, String label) {
    var op = model.graph().operation(name.contains(":") ? name.split(":")[0] : name);
    if (op != null) {
      return op.type();
    }
    int eq = label.indexOf("= ");
    int paren = label.indexOf('(', Math.max(eq, 0));
    if (eq >= 0 && paren > eq) {
      return label.substring(eq + 2, paren).trim();
    }
    return "(" + name + ")";
  }

  private static void print(
      BenchConfig config,
      String mode,
      CompileOptions.Precision precision,
      boolean xla,
      Totals totals,
      int traced,
      int top,
      PrintStream out) {
    long sum = totals.byType().values().stream().mapToLong(v -> v[0]).sum();
    out.printf(
        "profile: config %s, %s, %s%s, %d traced steps: %.1f ms wall (tracing slows a step),"
            + " summed op time %.1f ms per step%n",
        config.name(),
        mode,
        precision.name().toLowerCase(),
        xla ? ", xla" : "",
        traced,
        totals.wallMillis(),
        sum / 1000.0 / traced);
    out.println("  by op type:");
    table(totals.byType(), sum, traced, top, out);
    out.println("  by op:");
    table(totals.byNode(), sum, traced, top, out);
  }

  private static void table(
      Map<String, long[]> rows, long sum, int traced, int top, PrintStream out) {
    rows.entrySet().stream()
        .sorted((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]))
        .limit(top)
        .forEach(
            e ->
                out.printf(
                    "    %8.2f ms %5.1f%% %5d× %s%n",
                    e.getValue()[0] / 1000.0 / traced,
                    100.0 * e.getValue()[0] / Math.max(1, sum),
                    e.getValue()[1] / traced,
                    e.getKey()));
  }
}
