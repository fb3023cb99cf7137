package dev.lora4j.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonObject;

/**
 * Writes safetensors files the way the Python {@code safetensors} package does: tensors in the
 * map's iteration order, packed without gaps, the header padded with spaces to a multiple of 8 and
 * {@code "__metadata__": {"format": "pt", ...}}. The file appears atomically (see {@link
 * AtomicFiles}).
 */
public final class SafetensorsWriter {
  private SafetensorsWriter() {}

  /** One tensor to write: row-major little-endian bytes from {@code data}'s position to limit. */
  public record TensorData(DType dtype, long[] shape, ByteBuffer data) {
    public TensorData {
      Objects.requireNonNull(dtype, "dtype");
      shape = shape.clone();
      long numel = 1;
      for (long dim : shape) {
        if (dim < 0) {
          throw new IllegalArgumentException(
              "negative dimension in shape " + Arrays.toString(shape));
        }
        numel = Math.multiplyExact(numel, dim);
      }
      long expectedBytes = Math.multiplyExact(numel, dtype.byteSize());
      if (data.remaining() != expectedBytes) {
        throw new IllegalArgumentException(
            String.format(
                "%s %s needs %d bytes, data has %d",
                dtype, Arrays.toString(shape), expectedBytes, data.remaining()));
      }
      data = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }

    public static TensorData f32(long[] shape, float[] values) {
      ByteBuffer data = allocate(values.length, 4);
      data.asFloatBuffer().put(values);
      return new TensorData(DType.F32, shape, data);
    }

    /** Rounds each float to the nearest bfloat16, ties to even, as PyTorch does. */
    public static TensorData bf16FromFloats(long[] shape, float[] values) {
      ByteBuffer data = allocate(values.length, 2);
      for (int i = 0; i < values.length; i++) {
        data.putShort(i * 2, floatToBf16(values[i]));
      }
      return new TensorData(DType.BF16, shape, data);
    }

    public static TensorData i64(long[] shape, long[] values) {
      ByteBuffer data = allocate(values.length, 8);
      data.asLongBuffer().put(values);
      return new TensorData(DType.I64, shape, data);
    }

    private static ByteBuffer allocate(int count, int elementSize) {
      return ByteBuffer.allocate(Math.multiplyExact(count, elementSize))
          .order(ByteOrder.LITTLE_ENDIAN);
    }
  }

  static short floatToBf16(float value) {
    int bits = Float.floatToRawIntBits(value);
    if (Float.isNaN(value)) {
      return (short) ((bits >>> 16) | 0x0040); // keep the sign, force a quiet NaN
    }
    int roundingBias = 0x7fff + ((bits >>> 16) & 1);
    return (short) ((bits + roundingBias) >>> 16);
  }

  public static void write(
      Path file, Map<String, TensorData> tensors, Map<String, String> metadata) {
    byte[] header = header(tensors, metadata);
    AtomicFiles.write(
        file,
        out -> {
          ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
          out.write(length.putLong(0, header.length).array());
          out.write(header);
          for (TensorData tensor : tensors.values()) {
            writeBytes(out, tensor.data().duplicate());
          }
        });
  }

  private static byte[] header(Map<String, TensorData> tensors, Map<String, String> metadata) {
    Map<String, JsonElement> meta = new LinkedHashMap<>();
    meta.put("format", JsonElementKt.JsonPrimitive("pt"));
    metadata.forEach((key, value) -> meta.put(key, JsonElementKt.JsonPrimitive(value)));

    Map<String, JsonElement> root = new LinkedHashMap<>();
    root.put("__metadata__", new JsonObject(meta));
    long offset = 0;
    for (Map.Entry<String, TensorData> entry : tensors.entrySet()) {
      if (entry.getKey().equals("__metadata__")) {
        throw new IllegalArgumentException("'__metadata__' is reserved and cannot name a tensor");
      }
      TensorData tensor = entry.getValue();
      List<JsonElement> shape = new ArrayList<>();
      for (long dim : tensor.shape) {
        shape.add(JsonElementKt.JsonPrimitive(dim));
      }
      long end = offset + tensor.data().remaining();
      Map<String, JsonElement> info = new LinkedHashMap<>();
      info.put("dtype", JsonElementKt.JsonPrimitive(tensor.dtype().name()));
      info.put("shape", new JsonArray(shape));
      info.put(
          "data_offsets",
          new JsonArray(
              List.of(JsonElementKt.JsonPrimitive(offset), JsonElementKt.JsonPrimitive(end))));
      root.put(entry.getKey(), new JsonObject(info));
      offset = end;
    }
    byte[] json = new JsonObject(root).toString().getBytes(StandardCharsets.UTF_8);
    byte[] padded = Arrays.copyOf(json, (json.length + 7) / 8 * 8);
    Arrays.fill(padded, json.length, padded.length, (byte) ' ');
    return padded;
  }

  private static void writeBytes(OutputStream out, ByteBuffer data) throws IOException {
    if (data.hasArray()) {
      out.write(data.array(), data.arrayOffset() + data.position(), data.remaining());
      return;
    }
    byte[] chunk = new byte[(int) Math.min(data.remaining(), 1 << 20)];
    while (data.hasRemaining()) {
      int n = Math.min(chunk.length, data.remaining());
      data.get(chunk, 0, n);
      out.write(chunk, 0, n);
    }
  }
}
