package dev.lora4j.data;

import java.util.List;
import java.util.Random;

/**
 * Batches of rows, epoch after epoch without end. Epoch e visits the rows in a permutation that
 * depends only on (seed, e), or in list order without shuffling, so a run restarted with {@link
 * #seek} at a saved {@link #position} gets exactly the batches it would have got.
 */
public final class BatchIterator {
  /** The next row to serve: index {@code cursor} of epoch {@code epoch}'s order. */
  public record Position(long epoch, long cursor) {}

  /** Rows [B][T]; epoch and cursor of its first row. */
  public record Batch(int[][] ids, float[][] lossMask, long epoch, long cursor) {
    public int size() {
      return ids.length;
    }
  }

  private final List<Sequence> rows;
  private final int batchSize;
  private final long seed;
  private final boolean shuffle;
  private final boolean dropLast;
  private long epoch;
  private int cursor;
  private int[] order;

  /**
   * @param dropLast skip an epoch's last batch when it would be smaller than batchSize; otherwise
   *     it is served smaller
   */
  public BatchIterator(
      List<Sequence> rows, int batchSize, long seed, boolean shuffle, boolean dropLast) {
    if (rows.isEmpty()) {
      throw new IllegalArgumentException("no rows to batch; the training set is empty");
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch size must be at least 1, was " + batchSize);
    }
    if (dropLast && batchSize > rows.size()) {
      throw new IllegalArgumentException(
          "batch size "
              + batchSize
              + " is larger than the "
              + rows.size()
              + " training rows, and the last partial batch is dropped, so no batch would ever"
              + " be made; lower the batch size or add data");
    }
    this.rows = List.copyOf(rows);
    this.batchSize = batchSize;
    this.seed = seed;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    seek(new Position(0, 0));
  }

  public Batch next() {
    int size = Math.min(batchSize, rows.size() - cursor);
    int[][] ids = new int[size][];
    float[][] lossMask = new float[size][];
    for (int i = 0; i < size; i++) {
      Sequence row = rows.get(order[cursor + i]);
      ids[i] = row.ids();
      lossMask[i] = row.lossMask();
    }
    Batch batch = new Batch(ids, lossMask, epoch, cursor);
    cursor += size;
    if (epochFinished()) {
      startEpoch(epoch + 1);
    }
    return batch;
  }

  public Position position() {
    return new Position(epoch, cursor);
  }

  public void seek(Position p) {
    if (p.epoch() < 0 || p.cursor() < 0 || p.cursor() > rows.size()) {
      throw new IllegalArgumentException(
          "position "
              + p
              + " is outside this data: epoch must be >= 0 and cursor in [0, "
              + rows.size()
              + "]; resume with the same data and batch settings");
    }
    startEpoch(p.epoch());
    cursor = (int) p.cursor();
    if (epochFinished()) {
      startEpoch(epoch + 1);
    }
  }

  /** Batches one epoch yields. */
  public long batchesPerEpoch() {
    return dropLast ? rows.size() / batchSize : (rows.size() + batchSize - 1) / batchSize;
  }

  private boolean epochFinished() {
    int left = rows.size() - cursor;
    return left == 0 || (dropLast && left < batchSize);
  }

  private void startEpoch(long e) {
    epoch = e;
    cursor = 0;
    order = shuffle ? permutation(rows.size(), mix(seed, e)) : identity(rows.size());
  }

  /** A Fisher-Yates shuffle of 0..n-1 driven by java.util.Random, whose sequence the JDK fixes. */
  static int[] permutation(int n, long seed) {
    int[] order = identity(n);
    Random random = new Random(seed);
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    return order;
  }

  private static int[] identity(int n) {
    int[] order = new int[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    return order;
  }

  /** SplitMix64's finalizer, so that neighbouring epochs get unrelated Random seeds. */
  private static long mix(long seed, long epoch) {
    long z = seed + (epoch + 1) * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
