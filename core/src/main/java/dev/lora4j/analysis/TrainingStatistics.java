package dev.lora4j.analysis;

import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.io.CheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * How each module's ΔW evolves over a run: its {@link ModuleSpectrum} (norms, effective ranks,
 * singular values) at every saved step.
 *
 * @param steps ascending by step
 */
public record TrainingStatistics(List<Step> steps) {
  private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{1,18})");

  /** An adapter as it was after {@code step} optimizer steps. */
  public record Snapshot(long step, PeftAdapter adapter) {}

  /** The spectra of every module at one step. */
  public record Step(long step, Path adapterDir, Map<String, ModuleSpectrum> modules) {}

  public TrainingStatistics {
    steps = List.copyOf(steps);
  }

  /** The spectra of every snapshot, sorted by step; two snapshots of one step are an error. */
  public static TrainingStatistics of(List<Snapshot> snapshots) {
    List<Snapshot> sorted = new ArrayList<>(snapshots);
    sorted.sort(Comparator.comparingLong(Snapshot::step));
    List<Step> steps = new ArrayList<>();
    for (int k = 0; k < sorted.size(); k++) {
      Snapshot s = sorted.get(k);
      if (k > 0 && sorted.get(k - 1).step() == s.step()) {
        throw new IllegalArgumentException(
            "step "
                + s.step()
                + " appears twice: "
                + sorted.get(k - 1).adapter().dir()
                + " and "
                + s.adapter().dir());
      }
      steps.add(new Step(s.step(), s.adapter().dir(), ModuleSpectrum.of(s.adapter())));
    }
    return new TrainingStatistics(steps);
  }

  /** Loads every checkpoint of a run and computes the spectra; see {@link #snapshots(Path)}. */
  public static TrainingStatistics load(Path runOrCheckpoints) {
    return of(snapshots(runOrCheckpoints));
  }

  /**
   * The adapters of a run's checkpoints, oldest first: the `step-N` directories (each with
   * adapter_config.json and adapter_model.safetensors) under {@code dir}, or under {@code
   * dir/checkpoints} when {@code dir} is a training --out directory.
   */
  public static List<Snapshot> snapshots(Path dir) {
    Path root = Files.isDirectory(dir.resolve("checkpoints")) ? dir.resolve("checkpoints") : dir;
    List<Path> stepDirs;
    try (Stream<Path> entries = Files.list(root)) {
      stepDirs =
          entries
              .filter(Files::isDirectory)
              .filter(d -> STEP_DIR.matcher(d.getFileName().toString()).matches())
              .toList();
    } catch (IOException e) {
      throw new CheckpointException(
          root
              + ": cannot list checkpoints ("
              + e.getMessage()
              + "); pass a training --out"
              + " directory or its checkpoints/ directory",
          e);
    }
    if (stepDirs.isEmpty()) {
      throw new CheckpointException(
          root
              + ": no step-N checkpoint directories; pass a training --out directory or its"
              + " checkpoints/ directory");
    }
    List<Snapshot> out = new ArrayList<>();
    for (Path d : stepDirs) {
      if (!Files.isRegularFile(d.resolve(PeftAdapter.CONFIG_FILE))) {
        throw new CheckpointException(
            d
                + ": no "
                + PeftAdapter.CONFIG_FILE
                + "; this checkpoint holds no LoRA adapter (a full fine-tuning run?)");
      }
      Matcher m = STEP_DIR.matcher(d.getFileName().toString());
      m.matches();
      out.add(new Snapshot(Long.parseLong(m.group(1)), PeftAdapter.load(d)));
    }
    out.sort(Comparator.comparingLong(Snapshot::step));
    return out;
  }

  /** The step numbers, ascending. */
  public long[] stepNumbers() {
    return steps.stream().mapToLong(Step::step).toArray();
  }

  /** Every module that appears at some step, in first-seen order. */
  public Set<String> modules() {
    Set<String> all = new LinkedHashSet<>();
    for (Step s : steps) {
      all.addAll(s.modules().keySet());
    }
    return all;
  }

  /**
   * One metric of one module at every step, for plotting: {@code series(m,
   * ModuleSpectrum::frobenius)}. NaN at a step whose adapter lacks the module.
   */
  public double[] series(String module, ToDoubleFunction<ModuleSpectrum> metric) {
    if (!modules().contains(module)) {
      throw new IllegalArgumentException(
          "no step has module " + module + "; the modules are " + modules());
    }
    double[] out = new double[steps.size()];
    for (int k = 0; k < out.length; k++) {
      ModuleSpectrum m = steps.get(k).modules().get(module);
      out[k] = m == null ? Double.NaN : metric.applyAsDouble(m);
    }
    return out;
  }
}
