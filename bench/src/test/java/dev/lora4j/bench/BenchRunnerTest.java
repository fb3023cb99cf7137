package dev.lora4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A failing bench child says why: its last stderr lines, without TensorFlow's log noise. */
class BenchRunnerTest {

  @Test
  void aFailingChildsErrorReachesTheMessage() {
    List<String> child =
        List.of(
            "sh",
            "-c",
            "echo 'WARNING: All log messages before absl::InitializeLog() is called' >&2;"
                + " echo 'I0000 00:00:1 1 mlir_graph_optimization_pass.cc:401] MLIR V1' >&2;"
                + " echo 'java.lang.IllegalArgumentException: rank 0 is out of range' >&2;"
                + " exit 1");
    String m =
        assertThrows(IOException.class, () -> BenchRunner.runChild(child, Map.of(), "bench mode x"))
            .getMessage();
    assertTrue(
        m.startsWith(
            "bench mode x failed (exit 1): java.lang.IllegalArgumentException: rank 0 is out of"
                + " range"),
        m);
    assertFalse(m.contains("I0000") || m.contains("absl"), m);
  }

  @Test
  void aChildThatPrintsNothingSaysSo() throws Exception {
    String m =
        assertThrows(
                IOException.class,
                () -> BenchRunner.runChild(List.of("sh", "-c", "exit 3"), Map.of(), "peer"))
            .getMessage();
    assertEquals("peer failed (exit 3): no error output", m);
  }
}
