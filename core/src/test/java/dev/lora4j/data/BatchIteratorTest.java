package dev.lora4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.data.BatchIterator.Batch;
import dev.lora4j.data.BatchIterator.Position;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Row i of the test data is [i, i]; a batch is read back as the list of its row numbers. */
class BatchIteratorTest {
  static final List<Sequence> TEN_ROWS =
      IntStream.range(0, 10)
          .mapToObj(i -> new Sequence(new int[] {i, i}, new float[] {1}))
          .toList();

  private static List<Integer> rowsOf(Batch batch) {
    return Arrays.stream(batch.ids()).map(ids -> ids[0]).toList();
  }

  @Test
  void withoutShuffleRowsComeInOrderAndTheLastBatchIsSmaller() {
    BatchIterator batches = new BatchIterator(TEN_ROWS, 4, 0, false, false);
    assertEquals(3, batches.batchesPerEpoch());
    assertEquals(List.of(0, 1, 2, 3), rowsOf(batches.next()));
    assertEquals(List.of(4, 5, 6, 7), rowsOf(batches.next()));
    Batch last = batches.next();
    assertEquals(List.of(8, 9), rowsOf(last));
    assertEquals(new Position(1, 0), batches.position());
    Batch wrapped = batches.next();
    assertEquals(List.of(0, 1, 2, 3), rowsOf(wrapped));
    assertEquals(1, wrapped.epoch());
    assertEquals(0, wrapped.cursor());
  }

  @Test
  void dropLastSkipsThePartialBatch() {
    BatchIterator batches = new BatchIterator(TEN_ROWS, 4, 0, false, true);
    assertEquals(2, batches.batchesPerEpoch());
    batches.next();
    batches.next();
    assertEquals(new Position(1, 0), batches.position());
    assertEquals(List.of(0, 1, 2, 3), rowsOf(batches.next()));
  }

  @Test
  void eachEpochIsAPermutationThatDependsOnlyOnSeedAndEpoch() {
    BatchIterator batches = new BatchIterator(TEN_ROWS, 10, 5, true, false);
    List<Integer> epoch0 = rowsOf(batches.next());
    List<Integer> epoch1 = rowsOf(batches.next());
    assertEquals(IntStream.range(0, 10).boxed().toList(), epoch0.stream().sorted().toList());
    assertEquals(IntStream.range(0, 10).boxed().toList(), epoch1.stream().sorted().toList());
    assertNotEquals(epoch0, epoch1);

    BatchIterator sameSeed = new BatchIterator(TEN_ROWS, 10, 5, true, false);
    assertEquals(epoch0, rowsOf(sameSeed.next()));
    BatchIterator otherSeed = new BatchIterator(TEN_ROWS, 10, 6, true, false);
    assertNotEquals(epoch0, rowsOf(otherSeed.next()));
  }

  @Test
  void seekingToASavedPositionResumesExactly() {
    BatchIterator run = new BatchIterator(TEN_ROWS, 3, 11, true, false);
    for (int i = 0; i < 7; i++) {
      run.next();
    }
    Position saved = run.position();
    List<Batch> expected = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      expected.add(run.next());
    }
    BatchIterator resumed = new BatchIterator(TEN_ROWS, 3, 11, true, false);
    resumed.seek(saved);
    for (Batch want : expected) {
      Batch got = resumed.next();
      assertEquals(rowsOf(want), rowsOf(got));
      assertEquals(want.epoch(), got.epoch());
      assertEquals(want.cursor(), got.cursor());
    }
  }

  @Test
  void batchesCarryTheLossMasks() {
    List<Sequence> rows =
        List.of(
            new Sequence(new int[] {1, 2, 3}, new float[] {0, 1}),
            new Sequence(new int[] {4, 5, 6}, new float[] {1, 1}));
    Batch batch = new BatchIterator(rows, 2, 0, false, false).next();
    assertArrayEquals(new int[][] {{1, 2, 3}, {4, 5, 6}}, batch.ids());
    assertArrayEquals(new float[][] {{0, 1}, {1, 1}}, batch.lossMask());
  }

  @Test
  void impossibleSettingsAreRefused() {
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () -> new BatchIterator(TEN_ROWS, 11, 0, true, true))
            .getMessage();
    assertTrue(m.contains("batch size 11 is larger than the 10 training rows"), m);
    assertThrows(
        IllegalArgumentException.class, () -> new BatchIterator(List.of(), 1, 0, true, false));
    BatchIterator batches = new BatchIterator(TEN_ROWS, 2, 0, true, false);
    m =
        assertThrows(IllegalArgumentException.class, () -> batches.seek(new Position(0, 11)))
            .getMessage();
    assertTrue(m.contains("cursor in [0, 10]"), m);
  }
}
