package dev.lora4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** One test per malformed input: each message names the file, the tensor or field and the value. */
class SafetensorsValidationTest {
  private static final String FILE_NAME = "bad.safetensors";
  private static final String FIX = "re-download or re-export the checkpoint";

  @TempDir Path dir;

  private Path file() {
    return dir.resolve(FILE_NAME);
  }

  private static String entry(String dtype, String shape, String offsets) {
    return "{\"dtype\":" + dtype + ",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
  }

  /** A header with one tensor 'w' described by the given JSON entry. */
  private Path oneTensor(String entryJson, int dataBytes) throws IOException {
    return TestFiles.safetensors(file(), "{\"w\":" + entryJson + "}", new byte[dataBytes]);
  }

  private static String rejected(Path file, String... fragments) {
    CheckpointException e =
        assertThrows(CheckpointException.class, () -> SafetensorsFile.open(file).close());
    String message = e.getMessage();
    assertTrue(message.contains(FILE_NAME), "names the file: " + message);
    for (String fragment : fragments) {
      assertTrue(message.contains(fragment), "contains '" + fragment + "': " + message);
    }
    return message;
  }

  @Test
  void validFileForReference() throws IOException {
    oneTensor(entry("\"F32\"", "[2]", "[0,8]"), 8);
    try (SafetensorsFile st = SafetensorsFile.open(file())) {
      assertArrayEquals(new float[] {0, 0}, st.floats("w"));
    }
  }

  @Test
  void missingFile() {
    rejected(file(), "not found");
  }

  @Test
  void fileShorterThan8Bytes() throws IOException {
    Files.write(file(), new byte[] {1, 2, 3, 4, 5});
    rejected(file(), "5 bytes", "truncated", FIX);
  }

  @Test
  void headerLengthAboveTheLimit() throws IOException {
    TestFiles.raw(file(), 100_000_001L, new byte[16], new byte[0]);
    rejected(file(), "header length 100000001", "100000000", FIX);
  }

  @Test
  void headerLengthWithTheTopBitSetIsReportedUnsigned() throws IOException {
    TestFiles.raw(file(), -1L, new byte[16], new byte[0]);
    rejected(file(), "header length 18446744073709551615");
  }

  @Test
  void headerLongerThanTheFile() throws IOException {
    TestFiles.raw(file(), 1000, "{}".getBytes(StandardCharsets.UTF_8), new byte[0]);
    rejected(file(), "header length 1000", "only 10", "truncated");
  }

  @Test
  void headerNotUtf8() throws IOException {
    byte[] header = "{\"w?\":{}}".getBytes(StandardCharsets.US_ASCII);
    header[3] = (byte) 0xff;
    TestFiles.raw(file(), header.length, header, new byte[0]);
    rejected(file(), "not valid UTF-8", FIX);
  }

  @Test
  void headerNotJson() throws IOException {
    TestFiles.safetensors(file(), "{\"w\": {\"dtype\": F32", new byte[0]);
    rejected(file(), "not valid JSON", "offset", FIX);
  }

  @Test
  void headerNotAnObject() throws IOException {
    TestFiles.safetensors(file(), "[1,2]", new byte[0]);
    rejected(file(), "must be a JSON object", "was [1,2]");
  }

  @Test
  void headerNestedTooDeeply() throws IOException {
    TestFiles.safetensors(
        file(), "{\"w\":" + "[".repeat(5000) + "]".repeat(5000) + "}", new byte[0]);
    rejected(file(), "deeper than 128");
  }

  @Test
  void entryNotAnObject() throws IOException {
    oneTensor("[\"F32\",[2],[0,8]]", 8);
    rejected(file(), "tensor 'w'", "must be an object", "was [\"F32\",[2],[0,8]]");
  }

  @ParameterizedTest
  @ValueSource(strings = {"dtype", "shape", "data_offsets"})
  void entryMissingAField(String field) throws IOException {
    Map<String, String> fields = new java.util.LinkedHashMap<>();
    fields.put("dtype", "\"F32\"");
    fields.put("shape", "[2]");
    fields.put("data_offsets", "[0,8]");
    fields.remove(field);
    String without =
        fields.entrySet().stream()
            .map(e -> "\"" + e.getKey() + "\":" + e.getValue())
            .collect(java.util.stream.Collectors.joining(",", "{", "}"));
    oneTensor(without, 8);
    rejected(file(), "tensor 'w'", "missing field '" + field + "'");
  }

  @Test
  void unknownDtypeListsTheSupportedOnes() throws IOException {
    oneTensor(entry("\"F8_E4M3\"", "[2]", "[0,2]"), 2);
    rejected(
        file(), "tensor 'w'", "\"F8_E4M3\"", "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL");
  }

  @Test
  void dtypeNotAString() throws IOException {
    oneTensor(entry("4", "[2]", "[0,8]"), 8);
    rejected(file(), "tensor 'w'", "dtype must be a string", "was 4");
  }

  @Test
  void negativeDimension() throws IOException {
    oneTensor(entry("\"F32\"", "[2,-3]", "[0,8]"), 8);
    rejected(file(), "tensor 'w'", "negative dimension -3", "[2,-3]");
  }

  @ParameterizedTest
  @ValueSource(strings = {"[2,\"3\"]", "[2.5]", "[null]", "7", "[true]", "[1e3]"})
  void shapeNotAListOfIntegers(String shape) throws IOException {
    oneTensor(entry("\"F32\"", shape, "[0,8]"), 8);
    rejected(file(), "tensor 'w'", "shape must be a list of non-negative integers", "was " + shape);
  }

  @Test
  void dimensionAboveLongRange() throws IOException {
    oneTensor(entry("\"F32\"", "[99999999999999999999]", "[0,8]"), 8);
    rejected(file(), "tensor 'w'", "99999999999999999999", "2^63-1");
  }

  @Test
  void shapeProductOverflows() throws IOException {
    oneTensor(entry("\"F32\"", "[4294967296,4294967296]", "[0,8]"), 8);
    rejected(file(), "tensor 'w'", "[4294967296,4294967296]", "more than 2^63-1 elements");
  }

  @Test
  void byteCountOverflows() throws IOException {
    oneTensor(entry("\"F64\"", "[4611686018427387904]", "[0,8]"), 8);
    rejected(file(), "tensor 'w'", "[4611686018427387904]", "more than 2^63-1 bytes");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "[0]",
        "[0,8,16]",
        "[0,\"8\"]",
        "[-1,8]",
        "[0,8.0]",
        "{\"begin\":0}",
        "[0,99999999999999999999]"
      })
  void dataOffsetsNotTwoNonNegativeIntegers(String offsets) throws IOException {
    oneTensor(entry("\"F32\"", "[2]", offsets), 8);
    rejected(
        file(), "tensor 'w'", "data_offsets must be two non-negative integers", "was " + offsets);
  }

  @Test
  void dataOffsetsBeginAfterEnd() throws IOException {
    oneTensor(entry("\"F32\"", "[0]", "[8,0]"), 8);
    rejected(file(), "tensor 'w'", "[8,0]", "begin after end");
  }

  @Test
  void dataOffsetsEndPastTheData() throws IOException {
    oneTensor(entry("\"F32\"", "[4]", "[0,16]"), 8);
    rejected(file(), "tensor 'w'", "[0,16]", "data section, which has 8 bytes");
  }

  @Test
  void byteLengthDisagreesWithDtypeAndShape() throws IOException {
    oneTensor(entry("\"F32\"", "[3]", "[0,8]"), 8);
    rejected(file(), "tensor 'w'", "F32 [3] needs 12 bytes", "[0,8] span 8");
  }

  @Test
  void gapBetweenTensors() throws IOException {
    String header =
        "{\"a\":"
            + entry("\"F32\"", "[1]", "[0,4]")
            + ",\"b\":"
            + entry("\"F32\"", "[1]", "[8,12]")
            + "}";
    TestFiles.safetensors(file(), header, new byte[12]);
    rejected(file(), "4 unused bytes", "tensor 'a'", "tensor 'b'", "[8, 12]");
  }

  @Test
  void firstTensorNotAtTheStart() throws IOException {
    oneTensor(entry("\"F32\"", "[1]", "[4,8]"), 8);
    rejected(file(), "4 unused bytes between the start of the data section and tensor 'w'");
  }

  @Test
  void overlappingTensors() throws IOException {
    String header =
        "{\"a\":"
            + entry("\"F32\"", "[2]", "[0,8]")
            + ",\"b\":"
            + entry("\"F32\"", "[2]", "[4,12]")
            + "}";
    TestFiles.safetensors(file(), header, new byte[12]);
    rejected(file(), "tensor 'b' (data_offsets [4, 12]) overlaps tensor 'a' (data_offsets [0, 8])");
  }

  @Test
  void trailingBytesAfterTheLastTensor() throws IOException {
    oneTensor(entry("\"F32\"", "[1]", "[0,4]"), 8);
    rejected(file(), "the last tensor 'w' ends at byte 4", "4 trailing bytes", "has 8 bytes");
  }

  @Test
  void dataWithoutTensors() throws IOException {
    TestFiles.safetensors(file(), "{\"__metadata__\":{\"format\":\"pt\"}}", new byte[4]);
    rejected(file(), "lists no tensors", "4 trailing bytes");
  }

  @Test
  void duplicateTensorName() throws IOException {
    String w = entry("\"F32\"", "[1]", "[0,4]");
    TestFiles.safetensors(file(), "{\"w\":" + w + ",\"w\":" + w + "}", new byte[4]);
    rejected(file(), "tensor name 'w' appears twice");
  }

  @Test
  void duplicateTensorNameSpelledWithAnEscape() throws IOException {
    String w = entry("\"F32\"", "[1]", "[0,4]");
    TestFiles.safetensors(file(), "{\"w\":" + w + ",\"\\u0077\":" + w + "}", new byte[4]);
    rejected(file(), "tensor name 'w' appears twice");
  }

  @Test
  void duplicateFieldInAnEntry() throws IOException {
    oneTensor("{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4);
    rejected(file(), "field 'dtype' appears twice in the entry for 'w'");
  }

  @Test
  void metadataValueNotAString() throws IOException {
    TestFiles.safetensors(file(), "{\"__metadata__\":{\"format\":\"pt\",\"step\":3}}", new byte[0]);
    rejected(file(), "__metadata__ must map strings to strings", "'step' is 3");
  }

  @Test
  void metadataNotAnObject() throws IOException {
    TestFiles.safetensors(file(), "{\"__metadata__\":[\"pt\"]}", new byte[0]);
    rejected(file(), "__metadata__ must be an object", "was [\"pt\"]");
  }

  @Test
  void acceptsWhatTheReferenceAccepts() throws IOException {
    String header =
        "{\"b\":"
            + entry("\"I64\"", "[1]", "[4,12]")
            + ",\"__metadata__\":null"
            + ",\"empty\":{\"shape\":[0,3],\"data_offsets\":[4,4],\"dtype\":\"BF16\",\"extra\":1}"
            + ",\"a\":"
            + entry("\"F32\"", "[]", "[0,4]")
            + "}   ";
    TestFiles.safetensors(file(), header, new byte[12]);
    try (SafetensorsFile st = SafetensorsFile.open(file())) {
      assertEquals(Map.of(), st.metadata());
      assertEquals(
          List.of("a", "empty", "b"), st.tensors().stream().map(TensorInfo::name).toList());
      assertEquals(0, st.floats("empty").length);
    }
    TestFiles.safetensors(file(), "{}", new byte[0]);
    try (SafetensorsFile st = SafetensorsFile.open(file())) {
      assertEquals(List.of(), st.tensors());
    }
  }
}
