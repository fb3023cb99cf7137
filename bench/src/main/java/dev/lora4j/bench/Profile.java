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
  record Totals(
      Map<String, long[]> byType,
      Map<String, long[]> byNode,
      double wallMillis,
      Timeline timeline) {}

  /**
   * The traced steps' timelines, summed: from the first op's start to the last op's end, how long
   * at least one op was running, and how long two or more were (TensorFlow's inter-op parallelism).
   * Span minus busy is time between ops: scheduling, host work, feeds.
   */
  record Timeline(long spanMicros, long busyMicros, long overlapMicros) {
    static Timeline of(List<long[]> intervals) {
      if (intervals.isEmpty()) {
        return new Timeline(0, 0, 0);
      }
      List<long[]> events = new ArrayList<>();
      long first = Long.MAX_VALUE;
      long last = Long.MIN_VALUE;
      for (long[] iv : intervals) {
        events.add(new long[] {iv[0], 1});
        events.add(new long[] {iv[1], -1});
        first = Math.min(first, iv[0]);
        last = Math.max(last, iv[1]);
      }
      events.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
      long busy = 0;
      long overlap = 0;
      int running = 0;
      long previous = first;
      for (long[] e : events) {
        long dt = e[0] - previous;
        if (running >= 1) {
          busy += dt;
        }
        if (running >= 2) {
          overlap += dt;
        }
        running += (int) e[1];
        previous = e[0];
      }
      return new Timeline(last - first, busy, overlap);
    }

    Timeline plus(Timeline o) {
      return new Timeline(
          spanMicros + o.spanMicros, busyMicros + o.busyMicros, overlapMicros + o.overlapMicros);
    }
  }

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
    Timeline timeline = new Timeline(0, 0, 0);
    for (RunMetadata md : traces) {
      StepStats stats = md.getStepStats();
      List<long[]> intervals = new ArrayList<>();
      for (var device : stats.getDevStatsList()) {
        for (NodeExecStats node : device.getNodeStatsList()) {
          long micros = node.getOpEndRelMicros() - node.getOpStartRelMicros();
          if (micros > 0) {
            long start = node.getAllStartMicros() + node.getOpStartRelMicros();
            intervals.add(new long[] {start, start + micros});
          }
          String name = node.getNodeName();
          String type = opType(model, name, node.getTimelineLabel());
          byType.computeIfAbsent(type, k -> new long[2])[0] += micros;
          byType.get(type)[1]++;
          String label = name + " (" + type + ") " + outputShapes(node);
          byNode.computeIfAbsent(label, k -> new long[2])[0] += micros;
          byNode.get(label)[1]++;
        }
      }
      timeline = timeline.plus(Timeline.of(intervals));
    }
    return new Totals(byType, byNode, wallMillis, timeline);
  }

  /** A node's output shapes as the trace records them, such as "[1016x5000]" ("[]" if none). */
  static String outputShapes(NodeExecStats node) {
    List<String> shapes = new ArrayList<>();
    for (var output : node.getOutputList()) {
      List<String> dims = new ArrayList<>();
      for (var dim : output.getTensorDescription().getShape().getDimList()) {
        dims.add(Long.toString(dim.getSize()));
      }
      shapes.add(dims.isEmpty() ? "scalar" : String.join("x", dims));
    }
    return "[" + String.join(", ", shapes) + "]";
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
    Timeline t = totals.timeline();
    out.printf(
        "  timeline: %.1f ms from the first op to the last per step; an op running %.0f%% of it,"
            + " two or more at once %.0f%%%n",
        t.spanMicros() / 1000.0 / traced,
        100.0 * t.busyMicros() / Math.max(1, t.spanMicros()),
        100.0 * t.overlapMicros() / Math.max(1, t.spanMicros()));
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
