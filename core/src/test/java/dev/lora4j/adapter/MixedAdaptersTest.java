package dev.lora4j.adapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.compile.ModelCompiler;
import dev.lora4j.model.Checkpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A mixed batch (PEFT's adapter_names): each row gets the outputs of its own adapter run alone on
 * the same batch, and a base row the base model's outputs bit for bit.
 */
class MixedAdaptersTest {

  /** (case, first adapter, second adapter): adapters of different ranks, targets and kinds. */
  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of("gpt2-tiny", "adapter", "train/adapter_step3"),
        Arguments.of("llama-tiny", "adapter", "train/adapter_step3"),
        Arguments.of("qwen2-tiny", "adapter", "train/adapter_step3"));
  }

  /** The batch's rows repeated so every pattern below has enough rows. */
  static int[][] rows(Path dir, int count) {
    int[][] given = Conformance.ids(dir.resolve("inputs.json"));
    int[][] ids = new int[count][];
    for (int r = 0; r < count; r++) {
      ids[r] = given[r % given.length];
    }
    return ids;
  }

  /** Row r of [B, T, V] logits of a batch of `rows` rows. */
  static float[] row(float[] logits, int rows, int r) {
    int size = logits.length / rows;
    return Arrays.copyOfRange(logits, r * size, (r + 1) * size);
  }

  @ParameterizedTest(name = "{0}: each row of a mixed batch equals its adapter alone")
  @MethodSource("cases")
  void eachRowEqualsItsAdapterAloneAndBaseRowsEqualTheBase(
      String name, String firstDir, String secondDir) {
    Path dir = Conformance.dir(name);
    int[][] ids = rows(dir, 5);
    PeftAdapter first = PeftAdapter.load(dir.resolve(firstDir));
    PeftAdapter second = PeftAdapter.load(dir.resolve(secondDir));
    List<String> names = Arrays.asList("first", MixedAdapters.BASE, "second", null, "first");
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      // Each adapter alone on the whole batch: the same shapes as the mixed run.
      Map<String, float[]> alone = new LinkedHashMap<>();
      alone.put("first", AdapterSetTest.alone(checkpoint, first, ids));
      alone.put("second", AdapterSetTest.alone(checkpoint, second, ids));
      alone.put(MixedAdapters.BASE, AdapterSetTest.alone(checkpoint, null, ids));
      int n = ids.length;
      Map<String, PeftAdapter> adapters = new LinkedHashMap<>();
      adapters.put("first", first);
      adapters.put("second", second);
      try (MixedAdapters mixed =
          MixedAdapters.compile(checkpoint, adapters, CompileOptions.defaults())) {
        assertEquals(List.of("first", "second"), mixed.names());
        float[] got = mixed.logits(ids, names).values();
        for (int r = 0; r < n; r++) {
          String adapter = names.get(r) == null ? MixedAdapters.BASE : names.get(r);
          float[] want = row(alone.get(adapter), n, r);
          if (adapter.equals(MixedAdapters.BASE)) {
            assertArrayEquals(
                want, row(got, n, r), "row " + r + " (base) must be the base exactly");
          } else {
            assertClose(want, row(got, n, r), 1e-5, "row " + r + " (" + adapter + ")");
          }
        }
        // The adapters really differ from each other and from the base on these rows.
        assertFalse(Arrays.equals(row(alone.get("first"), n, 0), row(alone.get("second"), n, 0)));
        assertFalse(Arrays.equals(row(alone.get("first"), n, 0), row(alone.get("__base__"), n, 0)));
        // Without adapter names every row is the base; the same graph serves the next batch.
        assertArrayEquals(alone.get(MixedAdapters.BASE), mixed.model().logits(ids).values());
        float[] allSecond =
            mixed.logits(ids, List.of("second", "second", "second", "second", "second")).values();
        assertClose(alone.get("second"), allSecond, 1e-5, "all rows second");
      }
    }
  }

  static void assertClose(float[] want, float[] got, double tolerance, String what) {
    assertEquals(want.length, got.length, what + ": length");
    double worst = 0;
    for (int i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs(want[i] - got[i]) / Math.max(1, Math.abs(want[i])));
    }
    assertTrue(worst <= tolerance, what + ": largest difference " + worst + " > " + tolerance);
  }

  @Test
  void unknownNamesWrongRowCountsAndReservedNamesAreRefused() {
    Path dir = Conformance.dir("gpt2-tiny");
    int[][] ids = rows(dir, 2);
    PeftAdapter first = PeftAdapter.load(dir.resolve("adapter"));
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      var reserved =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  MixedAdapters.compile(
                      checkpoint, Map.of(MixedAdapters.BASE, first), CompileOptions.defaults()));
      assertTrue(reserved.getMessage().contains("__base__"), reserved.getMessage());
      try (MixedAdapters mixed =
          MixedAdapters.compile(checkpoint, Map.of("first", first), CompileOptions.defaults())) {
        var unknown =
            assertThrows(
                IllegalArgumentException.class, () -> mixed.logits(ids, List.of("first", "secnd")));
        assertTrue(
            unknown.getMessage().contains("adapter_names[1] = 'secnd'")
                && unknown.getMessage().contains("[first]"),
            unknown.getMessage());
        var count =
            assertThrows(IllegalArgumentException.class, () -> mixed.logits(ids, List.of("first")));
        assertTrue(count.getMessage().contains("2 rows"), count.getMessage());
      }
      try (CompiledModel plain =
          ModelCompiler.compile(
              checkpoint, first.specsFor(checkpoint.architecture()), CompileOptions.defaults())) {
        var noSeats =
            assertThrows(IllegalStateException.class, () -> plain.logits(ids, new int[] {0, 0}));
        assertTrue(noSeats.getMessage().contains("withAdapterSeats"), noSeats.getMessage());
      }
    }
  }

  @Test
  void adaptersThatStackPastMinInOutAreRefusedNamingThem() {
    Path dir = Conformance.dir("gpt2-tiny");
    PeftAdapter first = PeftAdapter.load(dir.resolve("adapter"));
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      Map<String, PeftAdapter> many = new LinkedHashMap<>();
      int rank = first.wholeModuleSpecsFor(checkpoint.architecture()).get(0).rank();
      // n_embd 48: enough copies of the adapter stack past rank 48 on c_attn.
      List<String> names = new ArrayList<>();
      for (int i = 0; i <= 48 / rank; i++) {
        many.put("copy" + i, first);
        names.add("copy" + i);
      }
      var e =
          assertThrows(
              IllegalArgumentException.class,
              () -> MixedAdapters.compile(checkpoint, many, CompileOptions.defaults()));
      assertTrue(
          e.getMessage().contains("min(in, out) = 48") && e.getMessage().contains("copy0"),
          e.getMessage());
    }
  }
}
