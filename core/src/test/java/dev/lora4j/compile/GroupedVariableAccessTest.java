package dev.lora4j.compile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.model.Checkpoint;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.op.Ops;

/**
 * Reading and writing many variables a group per session run (loading a base, initialising and
 * swapping adapters, checkpoints, merges) gives what one run per variable gave.
 */
class GroupedVariableAccessTest {

  @Test
  void groupsKeepOrderCoverEveryVariableAndStayUnder64MbUnlessOneVariableIsLarger() {
    try (Graph graph = new Graph()) {
      Ops tf = Ops.create(graph);
      List<WeightVariable> variables = new ArrayList<>();
      long[][] shapes = {{4, 1 << 20}, {3, 1 << 20}, {1}, {20, 1 << 20}, {2, 1 << 20}, {5}};
      for (int i = 0; i < shapes.length; i++) {
        variables.add(WeightVariable.create(tf, "v" + i, shapes[i]));
      }
      List<List<WeightVariable>> groups = CompiledModel.groups(variables);
      // 16 MB + 12 MB + 4 B fit; the 80 MB variable is a group of its own; 8 MB + 20 B follow.
      assertEquals(
          List.of(List.of("v0", "v1", "v2"), List.of("v3"), List.of("v4", "v5")),
          groups.stream().map(g -> g.stream().map(WeightVariable::name).toList()).toList());
    }
  }

  @Test
  void groupedWritesAndReadsEqualOneVariableAtATime() {
    try (Checkpoint checkpoint = Checkpoint.open(Conformance.dir("llama-tiny"));
        CompiledModel grouped =
            ModelCompiler.compile(checkpoint, List.of(), CompileOptions.defaults())) {
      List<WeightVariable> weights = List.copyOf(grouped.baseWeights().values());
      List<float[]> loaded = grouped.read(weights);
      for (int i = 0; i < weights.size(); i++) {
        WeightVariable w = weights.get(i);
        assertArrayEquals(checkpoint.floats(w.name()), loaded.get(i), w.name());
        assertArrayEquals(grouped.read(w), loaded.get(i), w.name());
      }
      List<float[]> changed = new ArrayList<>();
      for (float[] v : loaded) {
        float[] c = v.clone();
        for (int j = 0; j < c.length; j++) {
          c[j] = c[j] * 2 + j;
        }
        changed.add(c);
      }
      grouped.assign(weights, changed);
      for (int i = 0; i < weights.size(); i++) {
        assertArrayEquals(changed.get(i), grouped.read(weights.get(i)), weights.get(i).name());
      }
    }
  }

  @Test
  void aWrongLengthNamesTheVariableAndWritesNothing() {
    try (Checkpoint checkpoint = Checkpoint.open(Conformance.dir("gpt2-tiny"));
        CompiledModel model =
            ModelCompiler.compile(checkpoint, List.of(), CompileOptions.defaults())) {
      List<WeightVariable> weights = List.copyOf(model.baseWeights().values()).subList(0, 3);
      List<float[]> before = model.read(weights);
      List<float[]> values =
          List.of(new float[before.get(0).length], new float[before.get(1).length], new float[1]);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> model.assign(weights, values));
      assertTrue(e.getMessage().startsWith(weights.get(2).name() + " needs "), e.getMessage());
      List<float[]> after = model.read(weights);
      for (int i = 0; i < weights.size(); i++) {
        assertArrayEquals(before.get(i), after.get(i), weights.get(i).name());
      }
    }
  }
}
