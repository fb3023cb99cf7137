package dev.lora4j.notebooks

import dev.lora4j.compile.CompileOptions
import dev.lora4j.compile.ModelCompiler
import dev.lora4j.data.BatchIterator
import dev.lora4j.data.BpeTrainer
import dev.lora4j.data.Sequence
import dev.lora4j.model.Checkpoint
import dev.lora4j.model.LlamaConfig
import dev.lora4j.model.RandomCheckpoint
import dev.lora4j.train.OptimizerConfig
import dev.lora4j.train.ScheduleConfig
import dev.lora4j.train.TrainConfig
import dev.lora4j.train.Trainer
import dev.lora4j.train.TrainingListener
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.StandardCopyOption
import java.util.zip.GZIPInputStream

/**
 * A tiny base model made on the spot, so a notebook needs no download: a byte-level BPE tokenizer
 * trained on the start of a corpus, a 2-layer Llama-style model (separate q_proj, k_proj, v_proj
 * and o_proj, as in the LoRA paper's experiments) with random weights, then a few dozen steps of
 * full pretraining on the same text. Seconds on a laptop CPU; it writes only a bit of style, not
 * language.
 */
object TinyBase {
  /** The model: hidden 64, 2 layers, 4 heads of 16, MLP 128, context [SEQ_LEN] tokens. */
  @JvmStatic
  fun config(vocabSize: Int): LlamaConfig =
    LlamaConfig(
      "llama",
      vocabSize,
      64, // hidden
      128, // intermediate (MLP)
      2, // layers
      4, // heads
      4, // key/value heads
      16, // head dim
      SEQ_LEN, // positions
      1e-5,
      10000.0, // rope theta
      true, // tied embeddings
      false,
      false,
      false,
      "float32",
    )

  const val SEQ_LEN = 64
  const val VOCAB = 512

  /**
   * Makes the base in [dir] unless it is there already (then it is reused as is).
   *
   * @param corpus a text file, optionally gzipped; its first [chars] characters are used
   * @param listeners receive the pretraining's events (for a loss curve)
   * @return [dir]
   */
  @JvmStatic
  @JvmOverloads
  fun pretrain(
    dir: Path,
    corpus: Path,
    steps: Int = 80,
    chars: Int = 300_000,
    listeners: List<TrainingListener> = emptyList(),
    seed: Long = 1,
  ): Path {
    if (Files.isRegularFile(dir.resolve("model.safetensors"))) return dir
    val text = read(corpus, chars)
    val parent = dir.toAbsolutePath().parent
    Files.createDirectories(parent)
    val tmp = Files.createTempDirectory(parent, ".base-")
    val tokenizer = BpeTrainer.train(listOf(text), VOCAB, SEQ_LEN, tmp)
    val config = config(tokenizer.vocabSize())
    RandomCheckpoint.write(tmp, config, seed)
    val ids = tokenizer.encode(text)
    val rows =
      (0 until ids.size / SEQ_LEN).map { k ->
        Sequence(ids.copyOfRange(k * SEQ_LEN, (k + 1) * SEQ_LEN), FloatArray(SEQ_LEN - 1) { 1f })
      }
    val validation = rows.takeLast(maxOf(1, rows.size / 50))
    val train = rows.dropLast(validation.size)
    Checkpoint.open(tmp).use { checkpoint ->
      ModelCompiler.compile(checkpoint, listOf(), CompileOptions.defaults().withSeed(seed)).use {
        model ->
        val schedule =
          TrainConfig.defaults(OptimizerConfig.adamW(3e-3, 0.01), steps.toLong(), 16)
            .withSchedule(ScheduleConfig.of(ScheduleConfig.Kind.COSINE, steps / 10L, 0.1))
            .withMaxGradNorm(1.0)
            .withSeed(seed)
            .withFullFineTune(true)
        Trainer(model, schedule, "lora4j-notebook-base", listeners)
          .fit(BatchIterator(train, 16, seed, true, true), validation, null, null)
        model.exportCheckpoint(tmp)
      }
    }
    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE)
    return dir
  }

  private fun read(file: Path, chars: Int): String {
    val input = Files.newInputStream(file)
    val stream = if (file.toString().endsWith(".gz")) GZIPInputStream(input) else input
    return stream.bufferedReader().use { r ->
      val buffer = CharArray(chars)
      var n = 0
      while (n < chars) {
        val got = r.read(buffer, n, chars - n)
        if (got < 0) break
        n += got
      }
      String(buffer, 0, n)
    }
  }
}
