package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** `lora4j bench` checks its numbers before it starts a child JVM. */
class BenchCommandTest {

  @Test
  void rankSeqLenAndRoundsOutOfRangeAreRefusedUpFront() {
    String[][] cases = {
      {
        "A",
        "--rank",
        "0",
        "--rank must be between 1 and 256 (config A's smallest adapted projection), was 0"
      },
      {
        "A",
        "--rank",
        "4,300",
        "--rank must be between 1 and 256 (config A's smallest adapted projection), was 300"
      },
      // S's v_proj has 3 key/value heads of 64: out 192.
      {
        "S",
        "--rank",
        "193",
        "--rank must be between 1 and 192 (config S's smallest adapted projection), was 193"
      },
      {
        "A",
        "--seq-len",
        "2000",
        "--seq-len must be between 2 and 1024 (config A's positions), was 2000"
      },
      {
        "S",
        "--seq-len",
        "4096",
        "--seq-len must be between 2 and 2048 (config S's positions), was 4096"
      },
      {"A", "--rounds", "0", "--rounds must be at least 1, was 0"},
    };
    for (String[] c : cases) {
      String[] r =
          PlanCommandTest.capture(
              () -> Lora4j.run("bench", "--config", c[0], "--modes", "lora", c[1], c[2]));
      assertEquals("1", r[0], c[1] + " " + c[2] + ": " + r[1] + r[2]);
      assertTrue(r[2].contains(c[3]), r[2]);
    }
  }
}
