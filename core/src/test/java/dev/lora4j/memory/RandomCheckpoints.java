package dev.lora4j.memory;

import dev.lora4j.model.Architecture;
import dev.lora4j.model.Gpt2;
import dev.lora4j.model.Gpt2Config;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.SplittableRandom;

/** Writes GPT-2-shaped checkpoints with random weights, streamed to disk (never all in memory). */
public final class RandomCheckpoints {
  private RandomCheckpoints() {}

  /** GPT-2 small: 124M parameters. */
  public static Gpt2Config gpt2Small() {
    return new Gpt2Config(50257, 1024, 768, 12, 12, 3072, 1e-5, "gelu_new", true, "float32");
  }

  public static void writeGpt2(Path dir, Gpt2Config config, long seed) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(
        dir.resolve("config.json"),
        "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"], \"vocab_size\": "
            + config.vocabSize()
            + ", \"n_positions\": "
            + config.nPositions()
            + ", \"n_embd\": "
            + config.nEmbd()
            + ", \"n_layer\": "
            + config.nLayer()
            + ", \"n_head\": "
            + config.nHead()
            + ", \"n_inner\": null, \"layer_norm_epsilon\": 1e-05,"
            + " \"activation_function\": \"gelu_new\", \"tie_word_embeddings\": true,"
            + " \"torch_dtype\": \"float32\"}");
    Architecture architecture = new Gpt2(config);
    Map<String, long[]> weights = architecture.expectedWeights();
    StringBuilder header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
    long offset = 0;
    for (Map.Entry<String, long[]> e : weights.entrySet()) {
      long bytes = 4 * numel(e.getValue());
      header.append(",\"").append(e.getKey()).append("\":{\"dtype\":\"F32\",\"shape\":[");
      for (int i = 0; i < e.getValue().length; i++) {
        header.append(i == 0 ? "" : ",").append(e.getValue()[i]);
      }
      header.append("],\"data_offsets\":[").append(offset).append(",").append(offset + bytes);
      header.append("]}");
      offset += bytes;
    }
    header.append("}");
    while ((header.length() + 8) % 8 != 0) {
      header.append(' ');
    }
    byte[] headerBytes = header.toString().getBytes(StandardCharsets.UTF_8);
    SplittableRandom random = new SplittableRandom(seed);
    try (FileChannel out =
        FileChannel.open(
            dir.resolve("model.safetensors"),
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      len.putLong(headerBytes.length).flip();
      out.write(len);
      out.write(ByteBuffer.wrap(headerBytes));
      ByteBuffer chunk = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
      for (Map.Entry<String, long[]> e : weights.entrySet()) {
        boolean norm = e.getKey().contains(".ln_") || e.getKey().contains("ln_f");
        boolean isWeight = e.getKey().endsWith(".weight");
        long n = numel(e.getValue());
        for (long i = 0; i < n; i++) {
          float value =
              norm ? (isWeight ? 1f : 0f) : (float) (random.nextDouble(-1, 1) * 0.02 * 1.7);
          chunk.putFloat(value);
          if (!chunk.hasRemaining()) {
            chunk.flip();
            out.write(chunk);
            chunk.clear();
          }
        }
      }
      chunk.flip();
      out.write(chunk);
    }
  }

  static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }
}
