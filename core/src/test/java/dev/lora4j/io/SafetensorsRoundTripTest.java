package dev.lora4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.io.SafetensorsWriter.TensorData;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import kotlinx.serialization.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {
  @TempDir Path dir;

  @Test
  void f32Bf16AndI64TensorsReadBackAsWritten() {
    float[] weight = {1.5f, -2.25f, 3e-5f, 0f, -0f, 1e30f};
    float[] bias = {1f, 1.00390625f, -7.1234567f, 65504f};
    long[] ids = {0, -1, Long.MAX_VALUE, Long.MIN_VALUE};
    Map<String, TensorData> tensors = new LinkedHashMap<>();
    tensors.put("layer.weight", TensorData.f32(new long[] {2, 3}, weight));
    tensors.put("layer.bias", TensorData.bf16FromFloats(new long[] {4}, bias));
    tensors.put("ids", TensorData.i64(new long[] {2, 2}, ids));
    Path file = dir.resolve("model.safetensors");

    SafetensorsWriter.write(file, tensors, Map.of("source", "unit test"));

    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      assertEquals(Map.of("format", "pt", "source", "unit test"), st.metadata());
      assertEquals(
          List.of(
              new TensorInfo("layer.weight", DType.F32, new long[] {2, 3}, 0, 24),
              new TensorInfo("layer.bias", DType.BF16, new long[] {4}, 24, 32),
              new TensorInfo("ids", DType.I64, new long[] {2, 2}, 32, 64)),
          st.tensors());
      assertArrayEquals(weight, st.floats("layer.weight"));
      float[] roundedBias = st.floats("layer.bias");
      for (int i = 0; i < bias.length; i++) {
        float bf16 = Float.intBitsToFloat(SafetensorsWriter.floatToBf16(bias[i]) << 16);
        assertEquals(bf16, roundedBias[i]);
      }
      assertArrayEquals(ids, st.longs("ids"));
      assertTrue(st.contains("ids"));
      assertFalse(st.contains("missing"));

      ByteBuffer bytes = st.bytes("layer.weight");
      assertTrue(bytes.isReadOnly());
      assertEquals(ByteOrder.LITTLE_ENDIAN, bytes.order());
      assertEquals(24, bytes.remaining());
      assertEquals(-2.25f, bytes.getFloat(4));
    }
  }

  @Test
  void tensorInfoComparesShapesByValueAndCopiesThem() {
    long[] shape = {97, 48};
    TensorInfo a = new TensorInfo("wte", DType.F32, shape, 0, 97 * 48 * 4);
    TensorInfo b = new TensorInfo("wte", DType.F32, new long[] {97, 48}, 0, 97 * 48 * 4);
    assertEquals(a, b);
    assertEquals(a.hashCode(), b.hashCode());
    assertEquals("wte F32[97, 48] @[0, 18624)", a.toString());
    assertEquals(97 * 48, a.numel());
    assertEquals(18624, a.byteLength());
    shape[0] = 1;
    a.shape()[1] = 1;
    assertArrayEquals(new long[] {97, 48}, a.shape());
    assertFalse(a.equals(new TensorInfo("wte", DType.F32, new long[] {48, 97}, 0, 18624)));
  }

  @Test
  void headerIsPaddedWithSpacesToAMultipleOf8() throws IOException {
    for (int nameLength = 1; nameLength <= 16; nameLength++) {
      Path file = dir.resolve("padded" + nameLength + ".safetensors");
      SafetensorsWriter.write(
          file,
          Map.of("x".repeat(nameLength), TensorData.f32(new long[] {1}, new float[] {7f})),
          Map.of());
      byte[] bytes = Files.readAllBytes(file);
      long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
      assertEquals(0, headerLength % 8, "header length " + headerLength);
      assertEquals(8 + headerLength + 4, bytes.length);
      String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
      assertTrue(header.stripTrailing().endsWith("}"), header);
      assertTrue(header.substring(header.stripTrailing().length()).isBlank());
      assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\"}"), header);
    }
  }

  @Test
  void otherDtypesAreWidenedOrUpcast() {
    Map<String, TensorData> tensors = new LinkedHashMap<>();
    tensors.put("f64", raw(DType.F64, b -> b.putDouble(0, 0.1).putDouble(8, -3.0)));
    tensors.put(
        "f16", raw(DType.F16, b -> b.putShort(0, (short) 0x3c00).putShort(2, (short) 0xc000)));
    tensors.put("i32", raw(DType.I32, b -> b.putInt(0, -5).putInt(4, Integer.MAX_VALUE)));
    tensors.put("i16", raw(DType.I16, b -> b.putShort(0, (short) -2).putShort(2, (short) 300)));
    tensors.put("i8", raw(DType.I8, b -> b.put(0, (byte) -1).put(1, (byte) 127)));
    tensors.put("u8", raw(DType.U8, b -> b.put(0, (byte) 255).put(1, (byte) 0)));
    tensors.put("bool", raw(DType.BOOL, b -> b.put(0, (byte) 1).put(1, (byte) 0)));
    Path file = dir.resolve("dtypes.safetensors");
    SafetensorsWriter.write(file, tensors, Map.of());

    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      assertArrayEquals(new float[] {0.1f, -3f}, st.floats("f64"));
      assertArrayEquals(new float[] {1f, -2f}, st.floats("f16"));
      assertArrayEquals(new long[] {-5, Integer.MAX_VALUE}, st.longs("i32"));
      assertArrayEquals(new long[] {-2, 300}, st.longs("i16"));
      assertArrayEquals(new long[] {-1, 127}, st.longs("i8"));
      assertArrayEquals(new long[] {255, 0}, st.longs("u8"));
      assertEquals(2, st.bytes("bool").remaining());

      String floatsOfInts =
          assertThrows(CheckpointException.class, () -> st.floats("i32")).getMessage();
      assertTrue(floatsOfInts.contains("'i32'") && floatsOfInts.contains("I32"), floatsOfInts);
      String longsOfFloats =
          assertThrows(CheckpointException.class, () -> st.longs("f16")).getMessage();
      assertTrue(
          longsOfFloats.contains("'f16'") && longsOfFloats.contains("floats()"), longsOfFloats);
      assertThrows(CheckpointException.class, () -> st.longs("bool"));
    }
  }

  private static TensorData raw(DType dtype, java.util.function.Consumer<ByteBuffer> fill) {
    ByteBuffer data = ByteBuffer.allocate(2 * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
    fill.accept(data);
    return new TensorData(dtype, new long[] {2}, data);
  }

  @Test
  void scalarsAndEmptyTensorsRoundTrip() {
    Map<String, TensorData> tensors = new LinkedHashMap<>();
    tensors.put("scalar", TensorData.f32(new long[] {}, new float[] {42f}));
    tensors.put("empty", TensorData.f32(new long[] {0, 5}, new float[0]));
    tensors.put("after", TensorData.i64(new long[] {1}, new long[] {9}));
    Path file = dir.resolve("edge.safetensors");
    SafetensorsWriter.write(file, tensors, Map.of());

    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      assertArrayEquals(new float[] {42f}, st.floats("scalar"));
      assertEquals(1, st.info("scalar").numel());
      assertArrayEquals(new float[0], st.floats("empty"));
      assertEquals(0, st.bytes("empty").remaining());
      assertArrayEquals(new long[] {9}, st.longs("after"));
    }
  }

  @Test
  void copyFloatsConvertsAcrossChunkBoundariesIntoTheBufferPosition() {
    int n = 1000;
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) Math.sin(i) * 100;
    }
    Map<String, TensorData> tensors = new LinkedHashMap<>();
    tensors.put("f32", TensorData.f32(new long[] {n}, values));
    tensors.put("bf16", TensorData.bf16FromFloats(new long[] {n}, values));
    ByteBuffer halfs = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer doubles = ByteBuffer.allocate(8 * n).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      halfs.putShort(2 * i, (short) (0x3c00 + i));
      doubles.putDouble(8 * i, values[i]);
    }
    tensors.put("f16", new TensorData(DType.F16, new long[] {n}, halfs));
    tensors.put("f64", new TensorData(DType.F64, new long[] {n}, doubles));
    Path file = dir.resolve("chunks.safetensors");
    SafetensorsWriter.write(file, tensors, Map.of());

    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      for (String name : tensors.keySet()) {
        float[] expected = st.floats(name);
        for (int chunkBytes : new int[] {1, 8, 24, 4000, 1 << 20}) {
          FloatBuffer dest = FloatBuffer.allocate(n + 3);
          dest.position(3);
          st.copyFloats(st.info(name), dest, chunkBytes);
          assertEquals(n + 3, dest.position(), name);
          float[] got = new float[n];
          dest.position(3);
          dest.get(got);
          assertArrayEquals(expected, got, name + " chunk " + chunkBytes);
        }
        FloatBuffer direct =
            ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer();
        st.copyFloats(name, direct);
        float[] got = new float[n];
        direct.flip().get(got);
        assertArrayEquals(expected, got, name + " direct");
      }
      assertArrayEquals(values, st.floats("f32"));
      assertArrayEquals(values, st.floats("f64"));
      assertEquals(1f, st.floats("f16")[0]);
      assertThrows(
          IllegalArgumentException.class, () -> st.copyFloats("f32", FloatBuffer.allocate(n - 1)));
    }
  }

  @Test
  void halfToFloatIsExactForAll65536Values() {
    for (int bits = 0; bits < 0x10000; bits++) {
      int exponent = (bits >>> 10) & 0x1f;
      int mantissa = bits & 0x3ff;
      double sign = (bits & 0x8000) != 0 ? -1 : 1;
      double expected;
      if (exponent == 0x1f) {
        expected = mantissa == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
      } else if (exponent == 0) {
        expected = sign * mantissa * Math.pow(2, -24);
      } else {
        expected = sign * (1 + mantissa / 1024.0) * Math.pow(2, exponent - 15);
      }
      float got = SafetensorsFile.halfToFloat((short) bits);
      if (Double.isNaN(expected)) {
        assertTrue(Float.isNaN(got), Integer.toHexString(bits));
      } else {
        assertEquals((float) expected, got, Integer.toHexString(bits));
        assertEquals(sign < 0, (Float.floatToRawIntBits(got) & 0x80000000) != 0);
      }
    }
    assertEquals(65504f, SafetensorsFile.halfToFloat((short) 0x7bff));
    assertEquals(0x1p-24f, SafetensorsFile.halfToFloat((short) 0x0001));
  }

  @Test
  void bf16RoundsToNearestEven() {
    float ulp = 0x1p-7f; // bf16 spacing just above 1.0
    assertEquals(1f, bf16(1f + ulp / 2), "tie rounds down to the even 1.0");
    assertEquals(1f + 2 * ulp, bf16(1f + 3 * ulp / 2), "tie rounds up to the even 1 + 2^-6");
    assertEquals(1f + ulp, bf16(1f + ulp / 2 + 0x1p-20f), "above the tie rounds up");
    assertEquals(-1f, bf16(-1f - ulp / 2));
    assertEquals(Float.POSITIVE_INFINITY, bf16(Float.MAX_VALUE));
    assertEquals(Float.NEGATIVE_INFINITY, bf16(Float.NEGATIVE_INFINITY));
    assertTrue(Float.isNaN(bf16(Float.NaN)));
    assertEquals(0x1p-133f, bf16(0x1p-133f), "subnormals with few bits survive");
  }

  private static float bf16(float value) {
    return Float.intBitsToFloat(SafetensorsWriter.floatToBf16(value) << 16);
  }

  @Test
  void everyVendoredSafetensorsFileMatchesTheManifestAndReads() throws Exception {
    Path root = TestFiles.conformance();
    JsonObject files = (JsonObject) JsonFields.parse(root.resolve("MANIFEST.json")).get("files");
    int checked = 0;
    for (String name : files.keySet()) {
      if (!name.endsWith(".safetensors")) {
        continue;
      }
      JsonFields expected = new JsonFields((JsonObject) files.get(name), "MANIFEST.json " + name);
      Path file = root.resolve(name);
      byte[] bytes = Files.readAllBytes(file);
      assertEquals(expected.requireInt("bytes"), bytes.length, name);
      String sha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
      assertEquals(expected.requireString("sha256"), sha256, name);

      try (SafetensorsFile st = SafetensorsFile.open(file)) {
        assertEquals("pt", st.metadata().get("format"), name);
        long dataBytes = 0;
        for (TensorInfo t : st.tensors()) {
          dataBytes += t.numel() * t.dtype().byteSize();
          int length =
              t.dtype().isFloating() ? st.floats(t.name()).length : st.longs(t.name()).length;
          assertEquals(t.numel(), length, name + " " + t.name());
        }
        long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(bytes.length - 8 - headerLength, dataBytes, name);
      }
      checked++;
    }
    assertTrue(checked >= 30, "only " + checked + " safetensors files in the manifest");
  }

  @Test
  void gpt2TinyEmbeddingHasTheConfigShape() {
    Path caseDir = TestFiles.conformance().resolve("gpt2-tiny");
    JsonFields config = JsonFields.parse(caseDir.resolve("config.json"));
    try (SafetensorsFile st = SafetensorsFile.open(caseDir.resolve("model.safetensors"))) {
      TensorInfo wte = st.info("transformer.wte.weight");
      assertEquals(DType.F32, wte.dtype());
      assertArrayEquals(new long[] {97, 48}, wte.shape());
      assertArrayEquals(
          new long[] {config.requireInt("vocab_size"), config.requireInt("n_embd")}, wte.shape());
      assertEquals(97 * 48, st.floats("transformer.wte.weight").length);
    }
  }

  @Test
  void bf16CaseUpcastsExactlyToTheRoundedF32Weights() {
    Path conformance = TestFiles.conformance();
    try (SafetensorsFile f32 =
            SafetensorsFile.open(conformance.resolve("gpt2-tiny/model.safetensors"));
        SafetensorsFile bf16 =
            SafetensorsFile.open(conformance.resolve("gpt2-tiny-bf16/model.safetensors"))) {
      assertEquals(f32.tensors().size(), bf16.tensors().size());
      for (TensorInfo t : f32.tensors()) {
        TensorInfo rounded = bf16.info(t.name());
        assertEquals(DType.BF16, rounded.dtype(), t.name());
        assertArrayEquals(t.shape(), rounded.shape(), t.name());
        float[] original = f32.floats(t.name());
        float[] upcast = bf16.floats(t.name());
        for (int i = 0; i < original.length; i++) {
          int bits = Float.floatToRawIntBits(upcast[i]);
          assertEquals(0, bits & 0xffff, "bf16 upcast keeps the low 16 bits zero");
          assertEquals(
              SafetensorsWriter.floatToBf16(original[i]) << 16, bits, t.name() + "[" + i + "]");
        }
      }
    }
  }

  @Test
  void tensorsBeyond2GiBAreMappedOneByOne() throws IOException {
    long big = (1L << 31) + 8;
    String header =
        "{\"big\":{\"dtype\":\"U8\",\"shape\":["
            + big
            + "],\"data_offsets\":[0,"
            + big
            + "]},"
            + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":["
            + big
            + ","
            + (big + 8)
            + "]}}";
    Path file = dir.resolve("sparse.safetensors");
    TestFiles.safetensors(file, header, new byte[0]);
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      long dataStart = 8 + header.length();
      channel.write(ByteBuffer.wrap(TestFiles.floatBytes(3.5f, -1f)), dataStart + big); // sparse
    }

    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      assertArrayEquals(new float[] {3.5f, -1f}, st.floats("tail"));
      String tooBig = assertThrows(CheckpointException.class, () -> st.bytes("big")).getMessage();
      assertTrue(tooBig.contains("'big'") && tooBig.contains("2 GiB"), tooBig);
    }
  }

  @Test
  void missingTensorListsTheClosestNames() {
    Map<String, TensorData> tensors = new LinkedHashMap<>();
    for (String name :
        List.of(
            "h.0.attn.weight",
            "h.0.attn.bias",
            "h.1.attn.weight",
            "h.0.mlp.weight",
            "wte",
            "wpe",
            "ln_f")) {
      tensors.put(name, TensorData.f32(new long[] {1}, new float[] {1}));
    }
    Path file = dir.resolve("names.safetensors");
    SafetensorsWriter.write(file, tensors, Map.of());
    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      String message =
          assertThrows(CheckpointException.class, () -> st.info("h.0.attn.wieght")).getMessage();
      assertTrue(message.contains("names.safetensors"), message);
      assertTrue(message.contains("'h.0.attn.wieght'"), message);
      assertTrue(message.contains("closest names: h.0.attn.weight, "), message);
      assertFalse(message.contains("ln_f"), "at most 5 names: " + message);
    }
  }

  @Test
  void readingAfterCloseFails() {
    Path file = dir.resolve("closed.safetensors");
    SafetensorsWriter.write(
        file, Map.of("x", TensorData.f32(new long[] {1}, new float[] {1})), Map.of());
    SafetensorsFile st = SafetensorsFile.open(file);
    st.close();
    assertThrows(IllegalStateException.class, () -> st.floats("x"));
  }

  @Test
  void writerRejectsReservedNamesAndWrongByteCounts() {
    Path file = dir.resolve("bad.safetensors");
    TensorData one = TensorData.f32(new long[] {1}, new float[] {1});
    assertThrows(
        IllegalArgumentException.class,
        () -> SafetensorsWriter.write(file, Map.of("__metadata__", one), Map.of()));
    assertThrows(
        IllegalArgumentException.class, () -> TensorData.f32(new long[] {2}, new float[] {1}));
    assertThrows(
        IllegalArgumentException.class, () -> TensorData.f32(new long[] {-1}, new float[] {}));
    assertFalse(Files.exists(file));
  }
}
