package dev.lora4j.io;

import static org.junit.jupiter.api.Assertions.fail;

import dev.lora4j.io.SafetensorsWriter.TensorData;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import kotlinx.serialization.json.JsonElement;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded mutation fuzzing of {@link SafetensorsFile#open} and {@link JsonFields#parse}: every
 * mutated input must either read fully or fail with a {@link CheckpointException}, within 2 s.
 * Input i depends only on (seed, i), so a failure replays with {@code -Dlora4j.fuzz.seed}. Runs for
 * {@code lora4j.fuzz.seconds} (default 10) in total; a long run:
 *
 * <pre>
 * mvn -pl core -am test -Dtest=SafetensorsFuzzTest -Dlora4j.fuzz.seconds=600 \
 *     -Dsurefire.failIfNoSpecifiedTests=false
 * </pre>
 */
class SafetensorsFuzzTest {
  private static final double SECONDS =
      Double.parseDouble(System.getProperty("lora4j.fuzz.seconds", "10"));
  private static final long SEED = Long.getLong("lora4j.fuzz.seed", 0x10_2a_4_3L);
  private static final long CALL_LIMIT_MS = 2000;
  private static final Path FAILURES = Path.of("target", "fuzz-failures");

  private static final Pattern JSON_TOKEN =
      Pattern.compile(
          "\"[^\"\\\\]*+(?:\\\\.[^\"\\\\]*+)*+\"|-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?|true|false|null");
  private static final Pattern TENSOR_ENTRY = Pattern.compile("\"[^\"]*\":\\{[^{}]*\\}");
  private static final Pattern OFFSETS = Pattern.compile("\\[\\d+,\\d+\\]");
  private static final String[] REPLACEMENTS = {
    "0",
    "-1",
    "1",
    "7",
    "-0",
    "1.5",
    "12.0",
    "1e3",
    "1e999999999",
    "-1e999",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "99999999999999999999999999999999",
    "\"\"",
    "\"F32\"",
    "\"BF16\"",
    "\"F16\"",
    "\"F64\"",
    "\"I64\"",
    "\"U8\"",
    "\"BOOL\"",
    "\"F8_E4M3\"",
    "\"__metadata__\"",
    "null",
    "true",
    "[]",
    "{}",
    "[0]",
    "[0,0]",
    "[1,2,3]",
    "[-1,4]",
    "[[1]]",
    "{\"format\":\"pt\"}",
    "NaN",
    "abc",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "[".repeat(300) + "]".repeat(300),
    "{\"a\":".repeat(300) + "1" + "}".repeat(300)
  };

  @TempDir Path dir;
  private ExecutorService executor;

  @BeforeEach
  void startWorker() {
    executor =
        Executors.newSingleThreadExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "fuzz-target");
              thread.setDaemon(true); // a hung call must not keep the JVM alive
              return thread;
            });
  }

  @AfterEach
  void stopWorker() {
    executor.shutdownNow();
  }

  @Test
  void mutatedSafetensorsFilesReadOrFailWithCheckpointException() throws Exception {
    List<byte[]> corpus = safetensorsCorpus();
    fuzz("safetensors", SECONDS * 0.6, random -> mutateSafetensors(random, corpus), this::readAll);
  }

  @Test
  void mutatedConfigFilesParseOrFailWithCheckpointException() throws Exception {
    List<String> corpus = new ArrayList<>();
    Path conformance = TestFiles.conformance();
    for (String name :
        List.of(
            "gpt2-tiny/config.json",
            "llama-tiny/config.json",
            "qwen2-tiny/config.json",
            "llama-tiny/adapter/adapter_config.json",
            "qwen2-tiny/adapter/adapter_config.json",
            "qwen2-tiny/train/spec.json",
            "gpt2-tiny/inputs.json")) {
      corpus.add(Files.readString(conformance.resolve(name)));
    }
    fuzz("config", SECONDS * 0.4, random -> mutateJson(random, corpus), this::readAllFields);
  }

  // ---- targets: everything a caller might do with the input ----

  private void readAll(Path file) {
    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      st.metadata().forEach((key, value) -> key.length());
      for (TensorInfo t : st.tensors()) {
        tolerate(() -> st.bytes(t.name()).remaining());
        if (t.dtype().isFloating()) {
          tolerate(() -> st.floats(t.name()));
          if (t.numel() < 1 << 20) {
            tolerate(() -> st.copyFloats(t.name(), FloatBuffer.allocate((int) t.numel())));
          }
        } else {
          tolerate(() -> st.longs(t.name()));
        }
      }
      tolerate(() -> st.info("no such tensor"));
    }
  }

  private void readAllFields(Path file) {
    JsonFields fields = JsonFields.parse(file);
    for (String key : fields.json().keySet()) {
      readField(fields, key);
      tolerate(
          () -> {
            JsonFields nested = fields.optObject(key);
            nested.json().keySet().forEach(inner -> readField(nested, inner));
          });
    }
    readField(fields, "not present");
  }

  private static void readField(JsonFields fields, String key) {
    tolerate(() -> fields.requireInt(key));
    tolerate(() -> fields.optInt(key, 1));
    tolerate(() -> fields.requireDouble(key));
    tolerate(() -> fields.optDouble(key, 1));
    tolerate(() -> fields.requireString(key));
    tolerate(() -> fields.optString(key, ""));
    tolerate(() -> fields.optBoolean(key, false));
    tolerate(() -> fields.optStringList(key));
    fields.has(key);
    JsonElement raw = fields.get(key);
    String.valueOf(raw);
  }

  private static void tolerate(Runnable call) {
    try {
      call.run();
    } catch (CheckpointException expected) {
      // the one allowed failure
    }
  }

  // ---- the loop ----

  private interface Target {
    void accept(Path input) throws Exception;
  }

  private void fuzz(String name, double seconds, Function<Random, byte[]> generate, Target target)
      throws IOException {
    Path input = dir.resolve(name + ".input");
    long deadline = System.nanoTime() + (long) (seconds * 1e9);
    long accepted = 0;
    long rejected = 0;
    java.util.Set<String> rejectionKinds = new java.util.HashSet<>();
    long i = 0;
    for (; System.nanoTime() < deadline; i++) {
      byte[] bytes = generate.apply(new Random(mix(SEED, i)));
      Files.write(input, bytes);
      Future<?> call =
          executor.submit(
              () -> {
                target.accept(input);
                return null;
              });
      try {
        call.get(CALL_LIMIT_MS, TimeUnit.MILLISECONDS);
        accepted++;
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof CheckpointException)) {
          fail(report(name, i, bytes, e.getCause()), e.getCause());
        }
        rejected++;
        rejectionKinds.add(kind(e.getCause().getMessage(), input));
      } catch (TimeoutException e) {
        call.cancel(true);
        fail(report(name, i, bytes, new AssertionError("took more than " + CALL_LIMIT_MS + " ms")));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
    System.out.printf(
        "%s fuzz: %d inputs in %.1f s (seed %d): %d read, %d rejected with CheckpointException"
            + " (%d distinct messages once names and numbers are masked)%n",
        name, i, seconds, SEED, accepted, rejected, rejectionKinds.size());
    if (Boolean.getBoolean("lora4j.fuzz.verbose")) {
      rejectionKinds.stream().sorted().forEach(kind -> System.out.println("  " + kind));
    }
  }

  /** The message with the path, quoted names and numbers masked, to count kinds of rejection. */
  private static String kind(String message, Path input) {
    return message
        .replace(input.toString(), "FILE")
        .replaceAll("'[^']*'", "'…'")
        .replaceAll("\"[^\"]*\"", "\"…\"")
        .replaceAll("\\[[^\\]]*\\]", "[…]")
        .replaceAll("\\(.*\\)", "(…)")
        .replaceAll("was .*", "was …")
        .replaceAll("[0-9]+", "N");
  }

  private static String report(String name, long iteration, byte[] input, Throwable problem)
      throws IOException {
    Files.createDirectories(FAILURES);
    String stem = name + "-seed" + SEED + "-input" + iteration;
    Path binary = FAILURES.resolve(stem + ".bin");
    Files.write(binary, input);
    StringWriter trace = new StringWriter();
    problem.printStackTrace(new PrintWriter(trace));
    Files.writeString(FAILURES.resolve(stem + ".txt"), trace + "\n" + TestFiles.hexDump(input));
    return name
        + " input "
        + iteration
        + " (replay with -Dlora4j.fuzz.seed="
        + SEED
        + ") failed with "
        + problem
        + "; input in "
        + binary.toAbsolutePath()
        + ", hex dump beside it:\n"
        + TestFiles.hexDump(input.length > 512 ? java.util.Arrays.copyOf(input, 512) : input);
  }

  /** SplitMix64 of (seed, i), so neighbouring inputs are unrelated. */
  private static long mix(long seed, long i) {
    long z = seed + (i + 1) * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  // ---- safetensors inputs ----

  private List<byte[]> safetensorsCorpus() throws IOException {
    List<Map<String, TensorData>> files = new ArrayList<>();
    Map<String, TensorData> mixed = new LinkedHashMap<>();
    mixed.put("w", TensorData.f32(new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}));
    mixed.put("b", TensorData.bf16FromFloats(new long[] {3}, new float[] {0.5f, -1, 3}));
    mixed.put("ids", TensorData.i64(new long[] {2}, new long[] {7, -7}));
    files.add(mixed);
    Map<String, TensorData> everyDtype = new LinkedHashMap<>();
    for (DType dtype : DType.values()) {
      ByteBuffer data = ByteBuffer.allocate(3 * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < data.capacity(); i++) {
        data.put(i, (byte) (i * 37 + dtype.ordinal()));
      }
      everyDtype.put(dtype.name().toLowerCase(), new TensorData(dtype, new long[] {3}, data));
    }
    files.add(everyDtype);
    Map<String, TensorData> edges = new LinkedHashMap<>();
    edges.put("scalar", TensorData.f32(new long[] {}, new float[] {1}));
    edges.put("empty", TensorData.f32(new long[] {0, 4}, new float[0]));
    edges.put(
        "model.layers.0.self_attn.q_proj.lora_A.weight",
        TensorData.f32(new long[] {1, 2}, new float[] {1, 2}));
    files.add(edges);

    List<byte[]> corpus = new ArrayList<>();
    for (int i = 0; i < files.size(); i++) {
      Path file = dir.resolve("seed" + i + ".safetensors");
      SafetensorsWriter.write(file, files.get(i), Map.of("source", "fuzz"));
      corpus.add(Files.readAllBytes(file));
    }
    corpus.add(Files.readAllBytes(TestFiles.conformance().resolve("nf4/nf4.safetensors")));
    return corpus;
  }

  private static byte[] mutateSafetensors(Random random, List<byte[]> corpus) {
    byte[] bytes = corpus.get(random.nextInt(corpus.size())).clone();
    int mutations = 1 + random.nextInt(3);
    for (int m = 0; m < mutations; m++) {
      bytes =
          switch (random.nextInt(10)) {
            case 0 -> flipBit(random, bytes, headerBiased(random, bytes));
            case 1 -> insertBytes(random, bytes);
            case 2 -> deleteBytes(random, bytes);
            case 3 -> java.util.Arrays.copyOf(bytes, random.nextInt(bytes.length + 1));
            case 4 -> rewriteHeaderLength(random, bytes);
            case 5, 6 -> editHeader(random, bytes, header -> replaceToken(random, header));
            case 7 -> editHeader(random, bytes, header -> restructure(random, header));
            case 8 -> appendBytes(random, bytes);
            default -> flipBit(random, bytes, random.nextInt(Math.max(1, bytes.length)));
          };
    }
    return bytes;
  }

  private static int headerBiased(Random random, byte[] bytes) {
    int headerEnd = Math.min(bytes.length, 8 + Math.max(0, headerLength(bytes)));
    return random.nextInt(Math.max(1, headerEnd));
  }

  private static byte[] flipBit(Random random, byte[] bytes, int position) {
    if (bytes.length > 0) {
      bytes[position % bytes.length] ^= (byte) (1 << random.nextInt(8));
    }
    return bytes;
  }

  private static byte[] insertBytes(Random random, byte[] bytes) {
    int at = random.nextInt(bytes.length + 1);
    byte[] inserted = new byte[1 + random.nextInt(8)];
    random.nextBytes(inserted);
    byte[] out = new byte[bytes.length + inserted.length];
    System.arraycopy(bytes, 0, out, 0, at);
    System.arraycopy(inserted, 0, out, at, inserted.length);
    System.arraycopy(bytes, at, out, at + inserted.length, bytes.length - at);
    return out;
  }

  private static byte[] deleteBytes(Random random, byte[] bytes) {
    if (bytes.length == 0) {
      return bytes;
    }
    int at = random.nextInt(bytes.length);
    int count = Math.min(bytes.length - at, 1 + random.nextInt(8));
    byte[] out = new byte[bytes.length - count];
    System.arraycopy(bytes, 0, out, 0, at);
    System.arraycopy(bytes, at + count, out, at, bytes.length - at - count);
    return out;
  }

  private static byte[] appendBytes(Random random, byte[] bytes) {
    byte[] out = java.util.Arrays.copyOf(bytes, bytes.length + 1 + random.nextInt(16));
    for (int i = bytes.length; i < out.length; i++) {
      out[i] = (byte) random.nextInt(256);
    }
    return out;
  }

  private static byte[] rewriteHeaderLength(Random random, byte[] bytes) {
    if (bytes.length < 8) {
      return bytes;
    }
    long current = headerLength(bytes);
    long[] choices = {
      0,
      1,
      7,
      current - 1,
      current + 1,
      current + 8,
      bytes.length - 8,
      bytes.length,
      100_000_000,
      100_000_001,
      Long.MIN_VALUE,
      -1,
      Integer.MAX_VALUE,
      random.nextLong(),
      random.nextInt(bytes.length + 16)
    };
    ByteBuffer.wrap(bytes)
        .order(ByteOrder.LITTLE_ENDIAN)
        .putLong(0, choices[random.nextInt(choices.length)]);
    return bytes;
  }

  private static int headerLength(byte[] bytes) {
    if (bytes.length < 8) {
      return -1;
    }
    long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    return n < 0 || n > bytes.length - 8 ? -1 : (int) n;
  }

  /** Edits the header text; usually fixes the length prefix so the edit reaches validation. */
  private static byte[] editHeader(Random random, byte[] bytes, Function<String, String> edit) {
    int n = headerLength(bytes);
    if (n < 0) {
      return flipBit(random, bytes, random.nextInt(Math.max(1, bytes.length)));
    }
    String header = new String(bytes, 8, n, StandardCharsets.UTF_8);
    byte[] edited = edit.apply(header).getBytes(StandardCharsets.UTF_8);
    byte[] data = java.util.Arrays.copyOfRange(bytes, 8 + n, bytes.length);
    long length = random.nextInt(5) == 0 ? n : edited.length;
    return TestFiles.concat(length, edited, data);
  }

  private static String replaceToken(Random random, String json) {
    List<int[]> tokens = new ArrayList<>();
    Matcher matcher = JSON_TOKEN.matcher(json);
    while (matcher.find()) {
      tokens.add(new int[] {matcher.start(), matcher.end()});
    }
    if (tokens.isEmpty()) {
      return json;
    }
    int[] token = tokens.get(random.nextInt(tokens.size()));
    return json.substring(0, token[0]) + randomValue(random) + json.substring(token[1]);
  }

  private static String randomValue(Random random) {
    return switch (random.nextInt(4)) {
      case 0 -> Integer.toString(random.nextInt(1 << 20) - 16);
      case 1 -> Long.toString(random.nextLong());
      case 2 -> "\"" + randomText(random, 1 + random.nextInt(12)) + "\"";
      default -> REPLACEMENTS[random.nextInt(REPLACEMENTS.length)];
    };
  }

  private static String randomText(Random random, int length) {
    String alphabet = "abcXYZ_.019 \\\"{}[],:\u00e9\u4e2d\ud83d\ude00";
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < length; i++) {
      text.append(alphabet.charAt(random.nextInt(alphabet.length())));
    }
    return text.toString();
  }

  /** Duplicates or drops a tensor entry, or swaps two tensors' data_offsets. */
  private static String restructure(Random random, String header) {
    List<int[]> entries = new ArrayList<>();
    Matcher matcher = TENSOR_ENTRY.matcher(header);
    while (matcher.find()) {
      entries.add(new int[] {matcher.start(), matcher.end()});
    }
    if (entries.isEmpty()) {
      return header;
    }
    int[] entry = entries.get(random.nextInt(entries.size()));
    String text = header.substring(entry[0], entry[1]);
    switch (random.nextInt(3)) {
      case 0:
        return header.substring(0, entry[1]) + "," + text + header.substring(entry[1]);
      case 1:
        String without = header.substring(0, entry[0]) + header.substring(entry[1]);
        return without.replace(",,", ",").replace("{,", "{").replace(",}", "}");
      default:
        List<String> offsets = new ArrayList<>();
        Matcher m = OFFSETS.matcher(header);
        while (m.find()) {
          offsets.add(m.group());
        }
        if (offsets.size() < 2) {
          return header;
        }
        String a = offsets.get(random.nextInt(offsets.size()));
        String b = offsets.get(random.nextInt(offsets.size()));
        return header.replace(a, "\u0000").replace(b, a).replace("\u0000", b);
    }
  }

  // ---- config inputs ----

  private static byte[] mutateJson(Random random, List<String> corpus) {
    String json = corpus.get(random.nextInt(corpus.size()));
    int mutations = 1 + random.nextInt(3);
    for (int m = 0; m < mutations && !json.isEmpty(); m++) {
      int at = random.nextInt(json.length());
      json =
          switch (random.nextInt(8)) {
            case 0 -> json.substring(0, at) + randomText(random, 1) + json.substring(at + 1);
            case 1 ->
                json.substring(0, at)
                    + randomText(random, 1 + random.nextInt(4))
                    + json.substring(at);
            case 2 ->
                json.substring(0, at)
                    + json.substring(Math.min(json.length(), at + 1 + random.nextInt(8)));
            case 3 -> json.substring(0, at);
            case 4 -> json.substring(0, at) + "[".repeat(random.nextInt(2000)) + json.substring(at);
            default -> replaceToken(random, json);
          };
    }
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    if (random.nextInt(20) == 0 && bytes.length > 0) {
      bytes[random.nextInt(bytes.length)] = (byte) (0x80 | random.nextInt(128)); // invalid UTF-8
    }
    return bytes;
  }
}
