package dev.lora4j.model;

import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.CheckpointException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonNull;
import kotlinx.serialization.json.JsonObject;

/**
 * Writes a fresh Hugging Face checkpoint (config.json + model.safetensors) with the usual
 * initialisation: normal(0, 0.02) matrices and embeddings, norm weights 1, biases 0. The weights
 * are streamed to disk, so a 124M-parameter model never sits in the Java heap. Used to pretrain a
 * base model from scratch and by benchmarks.
 */
public final class RandomCheckpoint {
  private RandomCheckpoint() {}

  /** config.json for a config, with the fields transformers reads. */
  public static String configJson(ModelConfig config) {
    Map<String, JsonElement> json = new LinkedHashMap<>();
    if (config instanceof Gpt2Config g) {
      json.put(
          "architectures",
          new JsonArray(java.util.List.of(JsonElementKt.JsonPrimitive("GPT2LMHeadModel"))));
      json.put("model_type", JsonElementKt.JsonPrimitive("gpt2"));
      json.put("vocab_size", JsonElementKt.JsonPrimitive(g.vocabSize()));
      json.put("n_positions", JsonElementKt.JsonPrimitive(g.nPositions()));
      json.put("n_embd", JsonElementKt.JsonPrimitive(g.nEmbd()));
      json.put("n_layer", JsonElementKt.JsonPrimitive(g.nLayer()));
      json.put("n_head", JsonElementKt.JsonPrimitive(g.nHead()));
      json.put(
          "n_inner",
          g.nInner() == 4 * g.nEmbd()
              ? JsonNull.INSTANCE
              : JsonElementKt.JsonPrimitive(g.nInner()));
      json.put("layer_norm_epsilon", JsonElementKt.JsonPrimitive(g.layerNormEpsilon()));
      json.put("activation_function", JsonElementKt.JsonPrimitive(g.activation()));
      json.put("tie_word_embeddings", JsonElementKt.JsonPrimitive(g.tiedEmbeddings()));
    } else if (config instanceof LlamaConfig l) {
      String arch =
          switch (l.modelType()) {
            case "qwen2" -> "Qwen2ForCausalLM";
            case "mistral" -> "MistralForCausalLM";
            default -> "LlamaForCausalLM";
          };
      json.put(
          "architectures", new JsonArray(java.util.List.of(JsonElementKt.JsonPrimitive(arch))));
      json.put("model_type", JsonElementKt.JsonPrimitive(l.modelType()));
      json.put("vocab_size", JsonElementKt.JsonPrimitive(l.vocabSize()));
      json.put("hidden_size", JsonElementKt.JsonPrimitive(l.hiddenSize()));
      json.put("intermediate_size", JsonElementKt.JsonPrimitive(l.intermediateSize()));
      json.put("num_hidden_layers", JsonElementKt.JsonPrimitive(l.numLayers()));
      json.put("num_attention_heads", JsonElementKt.JsonPrimitive(l.numHeads()));
      json.put("num_key_value_heads", JsonElementKt.JsonPrimitive(l.numKvHeads()));
      json.put("head_dim", JsonElementKt.JsonPrimitive(l.headDim()));
      json.put("max_position_embeddings", JsonElementKt.JsonPrimitive(l.maxPositions()));
      json.put("rms_norm_eps", JsonElementKt.JsonPrimitive(l.rmsNormEps()));
      json.put("rope_theta", JsonElementKt.JsonPrimitive(l.ropeTheta()));
      json.put("tie_word_embeddings", JsonElementKt.JsonPrimitive(l.tiedEmbeddings()));
      json.put("hidden_act", JsonElementKt.JsonPrimitive("silu"));
      if (!l.modelType().equals("qwen2")) {
        json.put("attention_bias", JsonElementKt.JsonPrimitive(l.outputBias()));
      }
    }
    json.put("torch_dtype", JsonElementKt.JsonPrimitive("float32"));
    return new JsonObject(json).toString();
  }

  /** Writes config.json and a randomly initialised model.safetensors into dir. */
  public static void write(Path dir, ModelConfig config, long seed) {
    Architecture architecture = Architecture.of(config);
    Map<String, long[]> weights = architecture.expectedWeights();
    StringBuilder header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
    long offset = 0;
    for (Map.Entry<String, long[]> e : weights.entrySet()) {
      long bytes = 4 * numel(e.getValue());
      header.append(",\"").append(e.getKey()).append("\":{\"dtype\":\"F32\",\"shape\":[");
      for (int i = 0; i < e.getValue().length; i++) {
        header.append(i == 0 ? "" : ",").append(e.getValue()[i]);
      }
      header.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes);
      header.append("]}");
      offset += bytes;
    }
    header.append('}');
    while (header.length() % 8 != 0) {
      header.append(' ');
    }
    byte[] headerBytes = header.toString().getBytes(StandardCharsets.UTF_8);
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new CheckpointException(dir + ": cannot create: " + e.getMessage(), e);
    }
    SplittableRandom random = new SplittableRandom(seed);
    AtomicFiles.write(
        dir.resolve("model.safetensors"),
        stream -> writeData(stream, headerBytes, weights, random));
    AtomicFiles.writeString(dir.resolve("config.json"), configJson(config));
  }

  private static void writeData(
      OutputStream out, byte[] header, Map<String, long[]> weights, SplittableRandom random)
      throws IOException {
    ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    len.putLong(header.length);
    out.write(len.array());
    out.write(header);
    ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    for (Map.Entry<String, long[]> e : weights.entrySet()) {
      String key = e.getKey();
      boolean vector = e.getValue().length == 1;
      boolean normWeight = vector && key.endsWith(".weight");
      long n = numel(e.getValue());
      for (long i = 0; i < n; i++) {
        float value = vector ? (normWeight ? 1f : 0f) : (float) (gaussian(random) * 0.02);
        chunk.putFloat(value);
        if (!chunk.hasRemaining()) {
          out.write(chunk.array(), 0, chunk.position());
          chunk.clear();
        }
      }
    }
    out.write(chunk.array(), 0, chunk.position());
  }

  private static double gaussian(SplittableRandom random) {
    double u1 = random.nextDouble();
    double u2 = random.nextDouble();
    return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  }

  private static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }
}
