package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** `lora4j bench` checks its numbers before it starts a child JVM. */
class BenchCommandTest {

  @Test
  void rankSeqLenAndRoundsOutOfRangeAreRefusedUpFront() {
    String[][] cases = {
      {"--rank", "0", "--rank must be between 1 and 256 (config A's d), was 0"},
      {"--rank", "4,300", "--rank must be between 1 and 256 (config A's d), was 300"},
      {
        "--seq-len", "2000", "--seq-len must be between 2 and 1024 (config A's positions), was 2000"
      },
      {"--rounds", "0", "--rounds must be at least 1, was 0"},
    };
    for (String[] c : cases) {
      String[] r =
          PlanCommandTest.capture(
              () -> Lora4j.run("bench", "--config", "A", "--modes", "lora", c[0], c[1]));
      assertEquals("1", r[0], c[0] + " " + c[1] + ": " + r[1] + r[2]);
      assertTrue(r[2].contains(c[2]), r[2]);
    }
  }
}
