package dev.lora4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import kotlinx.serialization.json.Json;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonNull;
import kotlinx.serialization.json.JsonObject;
import kotlinx.serialization.json.JsonPrimitive;

/**
 * A safetensors file opened for reading. {@link #open} reads and validates the header with the
 * rules of the reference Rust reader; tensor data is memory-mapped only when a tensor is read, each
 * tensor on its own, so files larger than 2 GB work.
 */
public final class SafetensorsFile implements AutoCloseable {
  /** The reference reader's limit; larger headers are rejected before anything is allocated. */
  static final long MAX_HEADER_BYTES = 100_000_000L;

  static final int DEFAULT_CHUNK_BYTES = 16 << 20;
  private static final int MAX_ARRAY_LENGTH = Integer.MAX_VALUE - 8;
  private static final String FIX = "re-download or re-export the checkpoint";
  private static final String METADATA_KEY = "__metadata__";

  private final Path path;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, String> metadata;
  private final List<TensorInfo> tensors;
  private final Map<String, TensorInfo> byName;

  private SafetensorsFile(
      Path path,
      FileChannel channel,
      long dataStart,
      Map<String, String> metadata,
      List<TensorInfo> tensors) {
    this.path = path;
    this.channel = channel;
    this.dataStart = dataStart;
    this.metadata = Collections.unmodifiableMap(metadata);
    this.tensors = List.copyOf(tensors);
    Map<String, TensorInfo> index = new HashMap<>();
    for (TensorInfo t : tensors) {
      index.put(t.name(), t);
    }
    this.byName = index;
  }

  /** Reads and validates the header; throws {@link CheckpointException} for any malformed file. */
  public static SafetensorsFile open(Path file) {
    FileChannel channel;
    try {
      channel = FileChannel.open(file, StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      throw new CheckpointException(file + ": file not found; check the path", e);
    } catch (IOException e) {
      throw new CheckpointException(file + ": cannot open: " + e + "; check the path", e);
    }
    try {
      return readHeader(file, channel);
    } catch (IOException e) {
      closeQuietly(channel);
      throw new CheckpointException(file + ": cannot read the header: " + e, e);
    } catch (RuntimeException | Error e) {
      closeQuietly(channel);
      throw e;
    }
  }

  public Path path() {
    return path;
  }

  /** The "__metadata__" map of the header; empty when the file has none. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** All tensors, ordered by their position in the data section. */
  public List<TensorInfo> tensors() {
    return tensors;
  }

  public boolean contains(String name) {
    return byName.containsKey(name);
  }

  public TensorInfo info(String name) {
    TensorInfo info = byName.get(name);
    if (info == null) {
      throw problem(
          "no tensor named '%s'; closest names: %s (%d tensors in the file)",
          name, closestNames(name, 5), tensors.size());
    }
    return info;
  }

  /** The tensor's raw bytes: read-only, little-endian, exactly {@code byteLength} long. */
  public ByteBuffer bytes(String name) {
    TensorInfo t = info(name);
    if (t.byteLength() > Integer.MAX_VALUE) {
      throw problem(
          "tensor '%s' is %d bytes, more than one ByteBuffer holds (2 GiB); read it with"
              + " copyFloats",
          name, t.byteLength());
    }
    return map(dataStart + t.begin(), t.byteLength());
  }

  /** F32, F16, BF16 and F64 tensors as floats (F64 rounded to the nearest float). */
  public float[] floats(String name) {
    TensorInfo t = floatingPoint(name, "floats");
    if (t.numel() > MAX_ARRAY_LENGTH) {
      throw problem(
          "tensor '%s' has %d elements, more than a Java array holds; read it with copyFloats",
          name, t.numel());
    }
    float[] out = new float[(int) t.numel()];
    copyFloats(t, FloatBuffer.wrap(out), DEFAULT_CHUNK_BYTES);
    return out;
  }

  /**
   * Converts the tensor into {@code dest}, starting at its position, one chunk at a time so no
   * float[] of the whole tensor is allocated. {@code dest} must have numel floats remaining.
   */
  public void copyFloats(String name, FloatBuffer dest) {
    copyFloats(floatingPoint(name, "copyFloats"), dest, DEFAULT_CHUNK_BYTES);
  }

  /** I64, I32, I16, I8 and U8 tensors widened to long (U8 as 0..255). */
  public long[] longs(String name) {
    TensorInfo t = info(name);
    DType dtype = t.dtype();
    if (dtype.isFloating() || dtype == DType.BOOL) {
      throw problem(
          "tensor '%s' is %s, but longs() reads I64, I32, I16, I8 and U8 tensors%s",
          name, dtype, dtype.isFloating() ? "; use floats() for it" : "");
    }
    if (t.numel() > MAX_ARRAY_LENGTH) {
      throw problem("tensor '%s' has %d elements, too many for a long[]", name, t.numel());
    }
    ByteBuffer data = bytes(name);
    long[] out = new long[(int) t.numel()];
    for (int i = 0; i < out.length; i++) {
      out[i] =
          switch (dtype) {
            case I64 -> data.getLong(i * 8);
            case I32 -> data.getInt(i * 4);
            case I16 -> data.getShort(i * 2);
            case I8 -> data.get(i);
            case U8 -> data.get(i) & 0xff;
            default -> throw new AssertionError(dtype);
          };
    }
    return out;
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException e) {
      throw new CheckpointException(path + ": cannot close: " + e, e);
    }
  }

  @Override
  public String toString() {
    return "SafetensorsFile(" + path + ", " + tensors.size() + " tensors)";
  }

  // ---- reading data ----

  private TensorInfo floatingPoint(String name, String method) {
    TensorInfo t = info(name);
    if (!t.dtype().isFloating()) {
      throw problem(
          "tensor '%s' is %s, but %s() reads F32, F16, BF16 and F64 tensors; use longs() for"
              + " integer ones",
          name, t.dtype(), method);
    }
    return t;
  }

  /** Package-private so tests can use small chunks and cross chunk boundaries. */
  void copyFloats(TensorInfo t, FloatBuffer dest, int chunkBytes) {
    long numel = t.numel();
    if (dest.remaining() < numel) {
      throw new IllegalArgumentException(
          String.format(
              "tensor '%s' has %d elements but dest has %d floats remaining",
              t.name(), numel, dest.remaining()));
    }
    int elementSize = t.dtype().byteSize();
    long chunkElements = Math.max(1, chunkBytes / elementSize);
    float[] scratch = new float[(int) Math.min(numel, 8192)];
    for (long done = 0; done < numel; ) {
      int count = (int) Math.min(chunkElements, numel - done);
      ByteBuffer window =
          map(dataStart + t.begin() + done * elementSize, (long) count * elementSize);
      convertToFloats(t.dtype(), window, count, dest, scratch);
      done += count;
    }
  }

  private static void convertToFloats(
      DType dtype, ByteBuffer src, int count, FloatBuffer dest, float[] scratch) {
    if (dtype == DType.F32) {
      dest.put(src.asFloatBuffer());
      return;
    }
    ShortBuffer shorts = dtype == DType.F64 ? null : src.asShortBuffer();
    DoubleBuffer doubles = dtype == DType.F64 ? src.asDoubleBuffer() : null;
    for (int start = 0; start < count; start += scratch.length) {
      int n = Math.min(scratch.length, count - start);
      for (int i = 0; i < n; i++) {
        scratch[i] =
            switch (dtype) {
              case BF16 -> Float.intBitsToFloat(shorts.get(start + i) << 16);
              case F16 -> halfToFloat(shorts.get(start + i));
              case F64 -> (float) doubles.get(start + i);
              default -> throw new AssertionError(dtype);
            };
      }
      dest.put(scratch, 0, n);
    }
  }

  /** IEEE 754 binary16 to float, exactly (Float.float16ToFloat needs Java 20). */
  static float halfToFloat(short half) {
    int bits = half & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exponent = (bits >>> 10) & 0x1f;
    int mantissa = bits & 0x3ff;
    if (exponent == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
    }
    if (exponent == 0) {
      float subnormal = mantissa * 0x1p-24f;
      return sign == 0 ? subnormal : -subnormal;
    }
    return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }

  private ByteBuffer map(long position, long size) {
    try {
      return channel
          .map(FileChannel.MapMode.READ_ONLY, position, size)
          .order(ByteOrder.LITTLE_ENDIAN);
    } catch (ClosedChannelException e) {
      throw new IllegalStateException(path + " is closed", e);
    } catch (IOException e) {
      throw new CheckpointException(
          path + ": cannot map bytes " + position + ".." + (position + size) + ": " + e, e);
    }
  }

  private String closestNames(String name, int limit) {
    if (byName.isEmpty()) {
      return "(none)";
    }
    Map<String, Integer> distance = new HashMap<>();
    for (String candidate : byName.keySet()) {
      distance.put(candidate, editDistance(name, candidate));
    }
    return byName.keySet().stream()
        .sorted(Comparator.comparing((String n) -> distance.get(n)).thenComparing(n -> n))
        .limit(limit)
        .collect(Collectors.joining(", "));
  }

  /** Levenshtein distance over the first 128 characters, which bounds the cost for long names. */
  private static int editDistance(String a, String b) {
    a = a.length() > 128 ? a.substring(0, 128) : a;
    b = b.length() > 128 ? b.substring(0, 128) : b;
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return previous[b.length()];
  }

  // ---- header validation ----

  private static SafetensorsFile readHeader(Path file, FileChannel channel) throws IOException {
    long fileSize = channel.size();
    if (fileSize < 8) {
      throw corrupt(
          file,
          "the file is %d bytes, too short for the 8-byte header length; it is truncated",
          fileSize);
    }
    long headerLength = readFully(channel, 0, 8).getLong(0);
    if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
      throw corrupt(
          file,
          "header length %s is larger than the limit of %d bytes; this is not a safetensors file"
              + " or its first 8 bytes are damaged",
          Long.toUnsignedString(headerLength),
          MAX_HEADER_BYTES);
    }
    if (8 + headerLength > fileSize) {
      throw corrupt(
          file,
          "header length %d needs %d bytes but the file has only %d; it is truncated",
          headerLength,
          8 + headerLength,
          fileSize);
    }
    String header = decodeUtf8(file, readFully(channel, 8, (int) headerLength));
    JsonObject root = parseHeaderJson(file, header);
    long dataLength = fileSize - 8 - headerLength;

    Map<String, String> metadata = new LinkedHashMap<>();
    List<TensorInfo> tensors = new ArrayList<>(root.size());
    for (Map.Entry<String, JsonElement> entry : root.entrySet()) {
      if (entry.getKey().equals(METADATA_KEY)) {
        metadata = parseMetadata(file, entry.getValue());
      } else {
        tensors.add(parseTensor(file, entry.getKey(), entry.getValue(), dataLength));
      }
    }
    tensors.sort(
        Comparator.comparingLong(TensorInfo::begin)
            .thenComparingLong(TensorInfo::end)
            .thenComparing(TensorInfo::name));
    checkPacked(file, tensors, dataLength);
    return new SafetensorsFile(file, channel, 8 + headerLength, metadata, tensors);
  }

  private static ByteBuffer readFully(FileChannel channel, long position, int length)
      throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
    while (buffer.hasRemaining()) {
      if (channel.read(buffer, position + buffer.position()) < 0) {
        throw new IOException("unexpected end of file at byte " + (position + buffer.position()));
      }
    }
    return buffer.flip();
  }

  private static String decodeUtf8(Path file, ByteBuffer bytes) {
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(bytes)
          .toString();
    } catch (CharacterCodingException e) {
      throw corrupt(file, "the header is not valid UTF-8 (%s)", e.getMessage());
    }
  }

  private static JsonObject parseHeaderJson(Path file, String header) {
    if (JsonScan.tooDeep(header)) {
      throw corrupt(file, "the header JSON nests deeper than %d levels", JsonScan.MAX_DEPTH);
    }
    JsonElement root;
    try {
      root = Json.Default.parseToJsonElement(header);
    } catch (IllegalArgumentException e) { // kotlinx's SerializationException is one
      throw corrupt(file, "the header is not valid JSON (%s)", firstLine(e.getMessage()));
    }
    if (!(root instanceof JsonObject object)) {
      throw corrupt(file, "the header must be a JSON object, was %s", show(root));
    }
    JsonScan.Duplicate duplicate = JsonScan.firstDuplicateKey(header);
    if (duplicate != null && duplicate.topLevelKey() == null) {
      throw corrupt(file, "tensor name '%s' appears twice in the header", duplicate.key());
    }
    if (duplicate != null) {
      throw corrupt(
          file,
          "field '%s' appears twice in the entry for '%s'",
          duplicate.key(),
          duplicate.topLevelKey());
    }
    return object;
  }

  private static Map<String, String> parseMetadata(Path file, JsonElement value) {
    Map<String, String> metadata = new LinkedHashMap<>();
    if (value instanceof JsonNull) {
      return metadata;
    }
    if (!(value instanceof JsonObject object)) {
      throw corrupt(file, "__metadata__ must be an object of strings, was %s", show(value));
    }
    for (Map.Entry<String, JsonElement> entry : object.entrySet()) {
      String text = stringValue(entry.getValue());
      if (text == null) {
        throw corrupt(
            file,
            "__metadata__ must map strings to strings, but '%s' is %s",
            entry.getKey(),
            show(entry.getValue()));
      }
      metadata.put(entry.getKey(), text);
    }
    return metadata;
  }

  private static TensorInfo parseTensor(
      Path file, String name, JsonElement value, long dataLength) {
    if (!(value instanceof JsonObject entry)) {
      throw corrupt(
          file,
          "tensor '%s': entry must be an object {dtype, shape, data_offsets}, was %s",
          name,
          show(value));
    }
    String dtypeName = stringValue(require(file, name, entry, "dtype"));
    if (dtypeName == null) {
      throw corrupt(
          file,
          "tensor '%s': dtype must be a string such as \"F32\", was %s",
          name,
          show(entry.get("dtype")));
    }
    DType dtype = DType.parse(dtypeName, file, name);

    JsonElement shapeJson = require(file, name, entry, "shape");
    if (!(shapeJson instanceof JsonArray dims)) {
      throw corrupt(
          file,
          "tensor '%s': shape must be a list of non-negative integers, was %s",
          name,
          show(shapeJson));
    }
    long[] shape = new long[dims.size()];
    long numel = 1;
    for (int i = 0; i < shape.length; i++) {
      String digits = integerLiteral(dims.get(i));
      if (digits == null) {
        throw corrupt(
            file,
            "tensor '%s': shape must be a list of non-negative integers, was %s",
            name,
            show(dims));
      }
      if (digits.startsWith("-") && !digits.equals("-0")) {
        throw corrupt(
            file, "tensor '%s': shape %s has a negative dimension %s", name, show(dims), digits);
      }
      shape[i] = parseNonNegative(digits);
      if (shape[i] < 0) {
        throw corrupt(
            file, "tensor '%s': shape %s has dimension %s, above 2^63-1", name, show(dims), digits);
      }
      numel = multiplyOrNegative(numel, shape[i]);
      if (numel < 0) {
        throw corrupt(
            file, "tensor '%s': shape %s has more than 2^63-1 elements", name, show(dims));
      }
    }
    long expectedBytes = multiplyOrNegative(numel, dtype.byteSize());
    if (expectedBytes < 0) {
      throw corrupt(
          file, "tensor '%s': shape %s of %s is more than 2^63-1 bytes", name, show(dims), dtype);
    }

    JsonElement offsets = require(file, name, entry, "data_offsets");
    long begin = -1;
    long end = -1;
    if (offsets instanceof JsonArray pair && pair.size() == 2) {
      String beginDigits = integerLiteral(pair.get(0));
      String endDigits = integerLiteral(pair.get(1));
      begin = beginDigits == null ? -1 : parseNonNegative(beginDigits);
      end = endDigits == null ? -1 : parseNonNegative(endDigits);
    }
    if (begin < 0 || end < 0) {
      throw corrupt(
          file,
          "tensor '%s': data_offsets must be two non-negative integers [begin, end], was %s",
          name,
          show(offsets));
    }
    if (begin > end) {
      throw corrupt(file, "tensor '%s': data_offsets %s has begin after end", name, show(offsets));
    }
    if (end > dataLength) {
      throw corrupt(
          file,
          "tensor '%s': data_offsets %s end past the data section, which has %d bytes; the file is"
              + " truncated or the offsets are wrong",
          name,
          show(offsets),
          dataLength);
    }
    if (end - begin != expectedBytes) {
      throw corrupt(
          file,
          "tensor '%s': %s %s needs %d bytes but data_offsets %s span %d",
          name,
          dtype,
          show(dims),
          expectedBytes,
          show(offsets),
          end - begin);
    }
    return new TensorInfo(name, dtype, shape, begin, end);
  }

  /** Tensors sorted by offset must tile the data section exactly: no gaps, overlaps or tail. */
  private static void checkPacked(Path file, List<TensorInfo> sorted, long dataLength) {
    long expectedBegin = 0;
    TensorInfo previous = null;
    for (TensorInfo t : sorted) {
      if (t.begin() > expectedBegin) {
        String before =
            previous == null
                ? "the start of the data section"
                : String.format("tensor '%s' (ends at byte %d)", previous.name(), previous.end());
        throw corrupt(
            file,
            "%d unused bytes between %s and tensor '%s' (data_offsets [%d, %d]); tensors must be"
                + " packed without gaps",
            t.begin() - expectedBegin,
            before,
            t.name(),
            t.begin(),
            t.end());
      }
      if (t.begin() < expectedBegin) {
        throw corrupt(
            file,
            "tensor '%s' (data_offsets [%d, %d]) overlaps tensor '%s' (data_offsets [%d, %d])",
            t.name(),
            t.begin(),
            t.end(),
            previous.name(),
            previous.begin(),
            previous.end());
      }
      expectedBegin = t.end();
      previous = t;
    }
    if (expectedBegin != dataLength) {
      String last =
          previous == null
              ? "the header lists no tensors"
              : String.format(
                  "the last tensor '%s' ends at byte %d", previous.name(), previous.end());
      throw corrupt(
          file,
          "the data section has %d bytes but %s; %d trailing bytes belong to no tensor",
          dataLength,
          last,
          dataLength - expectedBegin);
    }
  }

  private static JsonElement require(Path file, String name, JsonObject entry, String field) {
    JsonElement value = entry.get(field);
    if (value == null) {
      throw corrupt(
          file, "tensor '%s': missing field '%s' (entry is %s)", name, field, show(entry));
    }
    return value;
  }

  /** The text of a JSON string, or null for anything else. */
  private static String stringValue(JsonElement value) {
    return value instanceof JsonPrimitive p && !(value instanceof JsonNull) && p.isString()
        ? p.getContent()
        : null;
  }

  /** The literal of a JSON integer ("12", "-3"), or null; kotlinx also accepts bare words. */
  private static String integerLiteral(JsonElement value) {
    if (!(value instanceof JsonPrimitive p) || value instanceof JsonNull || p.isString()) {
      return null;
    }
    String text = p.getContent();
    int start = text.startsWith("-") ? 1 : 0;
    if (text.length() == start || (text.charAt(start) == '0' && text.length() > start + 1)) {
      return null;
    }
    for (int i = start; i < text.length(); i++) {
      if (text.charAt(i) < '0' || text.charAt(i) > '9') {
        return null;
      }
    }
    return text;
  }

  /** Parses digits of a non-negative integer literal; -1 when it is negative or above 2^63-1. */
  private static long parseNonNegative(String digits) {
    if (digits.equals("-0")) {
      return 0;
    }
    if (digits.startsWith("-") || digits.length() > 19) {
      return -1;
    }
    try {
      return Long.parseLong(digits);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static long multiplyOrNegative(long a, long b) {
    try {
      return Math.multiplyExact(a, b);
    } catch (ArithmeticException e) {
      return -1;
    }
  }

  static String show(JsonElement value) {
    String text = String.valueOf(value);
    return text.length() <= 120 ? text : text.substring(0, 117) + "...";
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "no details";
    }
    int newline = message.indexOf('\n');
    String line = newline < 0 ? message : message.substring(0, newline);
    return line.length() <= 200 ? line : line.substring(0, 197) + "...";
  }

  private CheckpointException problem(String format, Object... args) {
    return new CheckpointException(path + ": " + String.format(Locale.ROOT, format, args));
  }

  private static CheckpointException corrupt(Path file, String format, Object... args) {
    return new CheckpointException(
        file + ": " + String.format(Locale.ROOT, format, args) + "; " + FIX);
  }

  private static void closeQuietly(FileChannel channel) {
    try {
      channel.close();
    } catch (IOException ignored) {
      // already failing with a better message
    }
  }
}
