package dev.lora4j.train;

import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.WeightVariable;
import dev.lora4j.data.BatchIterator;
import dev.lora4j.data.Sequence;
import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.JsonFields;
import dev.lora4j.io.SafetensorsWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonObject;
import kotlinx.serialization.json.JsonPrimitive;

/**
 * The training loop: updates, validation, early stopping, checkpoints and exact resume. Only the
 * trainable variables (the adapters, or every base weight in full fine-tuning) change.
 */
public final class Trainer {
  private final CompiledModel model;
  private final TrainConfig config;
  private final String baseModelName;
  private final List<TrainingListener> listeners;
  private final TrainingGraph graph;
  private final Evaluator evaluator;

  private final List<Double> losses = new ArrayList<>();
  private final List<double[]> validation = new ArrayList<>();
  private double bestValidation = Double.POSITIVE_INFINITY;
  private int evalsWithoutImprovement;
  private Path lastCheckpoint;

  /**
   * Validates the config and compiles the optimizer into the model's graph.
   *
   * @param baseModelName recorded in saved adapters (base_model_name_or_path)
   */
  public Trainer(
      CompiledModel model,
      TrainConfig config,
      String baseModelName,
      List<TrainingListener> listeners) {
    config.validate();
    this.model = model;
    this.config = config;
    this.baseModelName = baseModelName;
    this.listeners = List.copyOf(listeners);
    List<WeightVariable> params =
        config.fullFineTune()
            ? List.copyOf(model.baseWeights().values())
            : model.trainableVariables();
    this.graph =
        new TrainingGraph(
            model,
            params,
            config.optimizer(),
            config.schedule(),
            config.steps(),
            config.maxGradNorm(),
            config.gradAccumulation());
    this.evaluator = new Evaluator(model);
  }

  public TrainingGraph graph() {
    return graph;
  }

  public Evaluator evaluator() {
    return evaluator;
  }

  /**
   * Trains until the configured number of steps (or early stopping).
   *
   * @param outDir checkpoints and the final adapter go here; null keeps everything in memory
   * @param resumeFrom a checkpoint directory, or an out directory whose newest checkpoint is used;
   *     null starts fresh
   */
  public TrainingReport fit(
      BatchIterator train, List<Sequence> validationRows, Path outDir, Path resumeFrom) {
    if (resumeFrom != null) {
      restore(resumeFrom, train);
    }
    long startStep = graph.step();
    long trainable = graph.params().stream().mapToLong(WeightVariable::numel).sum();
    long total =
        model.baseWeights().values().stream().mapToLong(WeightVariable::numel).sum()
            + model.quantizedWeights().values().stream()
                .mapToLong(dev.lora4j.quant.QuantizedWeight::numel)
                .sum()
            + (config.fullFineTune() ? 0 : model.trainableParameterCount());
    emit(new TrainingEvent.Started(config.steps(), startStep, trainable, total));
    CheckpointStore store = outDir == null ? null : new CheckpointStore(outDir);
    List<Double> stepMillis = new ArrayList<>();
    long tokens = 0;
    long runStart = System.nanoTime();
    String stopReason = "completed " + config.steps() + " steps";
    while (graph.step() < config.steps()) {
      List<int[][]> ids = new ArrayList<>();
      List<float[][]> masks = new ArrayList<>();
      for (int i = 0; i < config.gradAccumulation(); i++) {
        BatchIterator.Batch batch = train.next();
        ids.add(batch.ids());
        masks.add(batch.lossMask());
        tokens += (long) batch.ids().length * batch.ids()[0].length;
      }
      long t0 = System.nanoTime();
      TrainingGraph.StepResult result = graph.step(ids, masks, config.seed());
      stepMillis.add((System.nanoTime() - t0) / 1e6);
      if (!Double.isFinite(result.loss()) || !Double.isFinite(result.gradNorm())) {
        throw new TrainingDivergedException(
            "the loss became "
                + result.loss()
                + " (gradient norm "
                + result.gradNorm()
                + ") at step "
                + (graph.step() + 1)
                + " with learning rate "
                + result.lr()
                + "; the update was skipped and nothing was overwritten."
                + (lastCheckpoint == null
                    ? ""
                    : " The last good checkpoint is " + lastCheckpoint + ".")
                + " Lower --lr, set --max-grad-norm, or check the data.");
      }
      losses.add((double) result.loss());
      long step = graph.step();
      double elapsed = (System.nanoTime() - runStart) / 1e6;
      double perStep = elapsed / (step - startStep);
      emit(
          new TrainingEvent.Step(
              step,
              config.steps(),
              result.loss(),
              result.lr(),
              result.gradNorm(),
              tokens / (elapsed / 1000),
              (long) elapsed,
              (long) (perStep * (config.steps() - step))));
      boolean last = step == config.steps();
      boolean stop = false;
      if ((config.evalEvery() > 0 && step % config.evalEvery() == 0) || last) {
        stop = evaluate(step, validationRows);
      }
      if (store != null
          && ((config.checkpointEvery() > 0 && step % config.checkpointEvery() == 0)
              || last
              || stop)) {
        lastCheckpoint = saveCheckpoint(store, train);
        emit(new TrainingEvent.CheckpointSaved(step, lastCheckpoint));
      }
      if (stop) {
        stopReason =
            "early stopping: no validation improvement in "
                + config.earlyStoppingPatience()
                + " evaluations";
        emit(new TrainingEvent.Stopped(step, stopReason));
        break;
      }
    }
    if (outDir != null && !config.fullFineTune()) {
      PeftAdapter.save(model, outDir.resolve("adapter"), baseModelName);
    }
    double[] sorted = stepMillis.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    double elapsedSeconds = (System.nanoTime() - runStart) / 1e9;
    TrainingReport report =
        new TrainingReport(
            graph.step(),
            List.copyOf(losses),
            List.copyOf(validation),
            bestValidation,
            trainable,
            sorted.length == 0 ? Double.NaN : sorted[sorted.length / 2],
            tokens / Math.max(1e-9, elapsedSeconds),
            stopReason);
    emit(new TrainingEvent.Finished(report));
    return report;
  }

  /** Evaluates and returns true when early stopping says stop. */
  private boolean evaluate(long step, List<Sequence> rows) {
    if (rows == null || rows.isEmpty()) {
      return false;
    }
    double loss = evaluator.meanLoss(rows, config.batchSize());
    boolean improved = loss < bestValidation - config.earlyStoppingMinDelta();
    if (improved) {
      bestValidation = loss;
      evalsWithoutImprovement = 0;
    } else {
      evalsWithoutImprovement++;
    }
    validation.add(new double[] {step, loss});
    emit(new TrainingEvent.Evaluated(step, loss, Math.exp(loss), improved));
    return config.earlyStoppingPatience() > 0
        && evalsWithoutImprovement >= config.earlyStoppingPatience();
  }

  /** The variables' current values by name, read in as few session runs as their size allows. */
  private Map<String, SafetensorsWriter.TensorData> tensorData(List<WeightVariable> variables) {
    List<float[]> values = model.read(variables);
    Map<String, SafetensorsWriter.TensorData> out = new LinkedHashMap<>();
    for (int i = 0; i < variables.size(); i++) {
      WeightVariable w = variables.get(i);
      out.put(w.name(), SafetensorsWriter.TensorData.f32(w.shape(), values.get(i)));
    }
    return out;
  }

  private Path saveCheckpoint(CheckpointStore store, BatchIterator train) {
    Map<String, SafetensorsWriter.TensorData> params = tensorData(graph.params());
    Map<String, SafetensorsWriter.TensorData> slots =
        tensorData(List.copyOf(graph.slots().values()));
    BatchIterator.Position position = train.position();
    Map<String, JsonElement> state = new LinkedHashMap<>();
    state.put("step", JsonElementKt.JsonPrimitive(graph.step()));
    state.put("epoch", JsonElementKt.JsonPrimitive(position.epoch()));
    state.put("cursor", JsonElementKt.JsonPrimitive(position.cursor()));
    state.put("seed", JsonElementKt.JsonPrimitive(config.seed()));
    state.put("model", JsonElementKt.JsonPrimitive(modelKey()));
    state.put("plan", JsonElementKt.JsonPrimitive(config.resumeKey()));
    state.put("best_validation_loss", JsonElementKt.JsonPrimitive(bestValidation));
    state.put("evals_without_improvement", JsonElementKt.JsonPrimitive(evalsWithoutImprovement));
    state.put("losses", doubles(losses));
    List<JsonElement> evals = new ArrayList<>();
    for (double[] v : validation) {
      evals.add(doubles(List.of(v[0], v[1])));
    }
    state.put("validation", new JsonArray(evals));
    String json = new JsonObject(state).toString();
    return store.save(
        graph.step(),
        json,
        params,
        slots,
        config.fullFineTune() ? null : dir -> PeftAdapter.save(model, dir, baseModelName),
        config.keepCheckpoints());
  }

  private static JsonArray doubles(List<Double> values) {
    List<JsonElement> out = new ArrayList<>();
    for (double v : values) {
      out.add(JsonElementKt.JsonPrimitive(Double.isFinite(v) ? v : null));
    }
    return new JsonArray(out);
  }

  /** Describes the model and trainable variables; a resume must find the same. */
  private String modelKey() {
    StringBuilder key =
        new StringBuilder(model.config().modelType())
            .append(" hidden ")
            .append(model.config().hiddenSize())
            .append(" layers ")
            .append(model.config().numLayers())
            .append(" vocab ")
            .append(model.config().vocabSize())
            .append(
                model.quantizedWeights().isEmpty()
                    ? ""
                    : " base stored "
                        + model.quantizedWeights().values().iterator().next().quantization())
            .append(" trainable");
    for (WeightVariable w : graph.params()) {
      key.append(' ').append(w.name()).append(Arrays.toString(w.shape()));
    }
    return key.toString();
  }

  private void restore(Path from, BatchIterator train) {
    Path dir = from;
    if (!java.nio.file.Files.isRegularFile(from.resolve(CheckpointStore.STATE_FILE))) {
      dir = new CheckpointStore(from).latest();
      if (dir == null) {
        throw new CheckpointException(
            from
                + ": no checkpoint to resume from (looked for "
                + from.resolve("checkpoints")
                + "/step-*/"
                + CheckpointStore.STATE_FILE
                + ")");
      }
    }
    CheckpointStore.Saved saved = CheckpointStore.load(dir);
    JsonFields state = saved.state();
    String savedModel = state.requireString("model");
    if (!savedModel.equals(modelKey())) {
      throw new CheckpointException(
          dir
              + ": this checkpoint was made for another model or adapter layout; it has\n  "
              + savedModel
              + "\nbut this run has\n  "
              + modelKey()
              + "\nresume with the same --model and targets, or start a new --out directory");
    }
    String savedPlan = state.requireString("plan");
    if (!savedPlan.equals(config.resumeKey())) {
      throw new CheckpointException(
          dir
              + ": this checkpoint was made with another training plan; it has\n  "
              + savedPlan
              + "\nbut this run has\n  "
              + config.resumeKey()
              + "\nresume with the same options, or start a new --out directory");
    }
    List<WeightVariable> variables = new ArrayList<>(graph.params());
    List<float[]> values = new ArrayList<>();
    for (WeightVariable w : graph.params()) {
      values.add(require(saved.params(), w.name(), dir));
    }
    for (WeightVariable w : graph.slots().values()) {
      variables.add(w);
      values.add(require(saved.optimizer(), w.name(), dir));
    }
    model.assign(variables, values);
    graph.setStep(Long.parseLong(((JsonPrimitive) state.get("step")).getContent()));
    train.seek(
        new BatchIterator.Position(
            Long.parseLong(((JsonPrimitive) state.get("epoch")).getContent()),
            Long.parseLong(((JsonPrimitive) state.get("cursor")).getContent())));
    bestValidation = state.optDouble("best_validation_loss", Double.POSITIVE_INFINITY);
    evalsWithoutImprovement = state.optInt("evals_without_improvement", 0);
    for (JsonElement e : (JsonArray) state.get("losses")) {
      losses.add(Double.parseDouble(((JsonPrimitive) e).getContent()));
    }
    for (JsonElement e : (JsonArray) state.get("validation")) {
      JsonArray pair = (JsonArray) e;
      validation.add(
          new double[] {
            Double.parseDouble(((JsonPrimitive) pair.get(0)).getContent()),
            Double.parseDouble(((JsonPrimitive) pair.get(1)).getContent())
          });
    }
    lastCheckpoint = dir;
  }

  private static float[] require(Map<String, float[]> values, String name, Path dir) {
    float[] v = values.get(name);
    if (v == null) {
      throw new CheckpointException(dir + ": checkpoint lacks '" + name + "'; it is incomplete");
    }
    return v;
  }

  private void emit(TrainingEvent event) {
    for (TrainingListener l : listeners) {
      l.onEvent(event);
    }
  }
}
