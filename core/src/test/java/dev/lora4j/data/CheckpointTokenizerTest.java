package dev.lora4j.data;

import static dev.lora4j.data.Gpt2TokenizerTest.resourcePath;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.io.CheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import kotlinx.serialization.json.Json;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * tokenizer.json files in the Llama/Mistral style (byte fallback, "▁" for spaces) and the
 * Qwen2/Llama 3 style (a Split regex, then ByteLevel). The hand-made Llama-style file has ids 3 to
 * 258 for {@code <0x00>} to {@code <0xFF>}, then ▁=259 h e l o w r d ll ▁h llo ▁he ▁hello=271 or ▁w
 * ▁wor=274 ld=275 ▁▁=276 !=277, and merges in this rank order: "l l", "▁ h", "ll o", "▁h e", "▁he
 * llo", "o r", "▁ w", "▁w or", "l d", "▁ ▁". Every expected id below was derived by hand and agrees
 * with Hugging Face's tokenizers crate (0.21, checked once through DJL).
 */
class CheckpointTokenizerTest {
  static final Path LLAMA_STYLE = resourcePath("llama-style");

  @TempDir static Path temp;
  static Path gpt2Files;

  @BeforeAll
  static void saveGpt2() throws IOException {
    gpt2Files = Files.createDirectories(temp.resolve("gpt2"));
    Tokenizer.gpt2().save(gpt2Files);
  }

  /** Llama 2's layout: Prepend("▁") and Replace(" ", "▁") normalizers, no pre-tokenizer. */
  static Stream<Arguments> llamaIds() {
    return Stream.of(
        Arguments.of("hello world", new int[] {271, 274, 275}),
        Arguments.of("hello", new int[] {271}),
        Arguments.of("lll", new int[] {259, 267, 262}), // "l l" merges leftmost first
        Arguments.of("world!", new int[] {274, 275, 277}),
        Arguments.of(" hello", new int[] {259, 271}),
        // "▁ w" (rank 6) wins over "▁ ▁" (rank 9)
        Arguments.of("hello  world", new int[] {271, 259, 274, 275}),
        // 'a' and 'b' are not in the vocabulary: byte tokens <0x61> and <0x62>
        Arguments.of("a   b", new int[] {259, 100, 276, 259, 101}),
        // é is UTF-8 C3 A9: <0xC3> <0xA9>
        Arguments.of("héllo", new int[] {268, 198, 172, 269}),
        Arguments.of("😀", new int[] {259, 243, 162, 155, 131}),
        Arguments.of("hello\nworld", new int[] {271, 13, 264, 272, 275}));
  }

  @ParameterizedTest(name = "\"{0}\"")
  @MethodSource("llamaIds")
  void llamaStyleEncodesAsDerivedByHand(String text, int[] expected) {
    Tokenizer llama = Tokenizer.forCheckpoint(LLAMA_STYLE);
    assertArrayEquals(expected, llama.encode(text));
    assertEquals(text, llama.decode(expected));
  }

  @Test
  void llamaStyleDecodesWhatItEncodes() {
    Tokenizer llama = Tokenizer.forCheckpoint(LLAMA_STYLE);
    for (String text :
        List.of("héllo wörld 😀!", "  leading spaces", "trailing  ", "tab\tand\nnewline", "日本語")) {
      assertEquals(text, llama.decode(llama.encode(text)), text);
    }
  }

  @Test
  void llamaStyleSpecialTokensComeFromTheConfig() {
    Tokenizer llama = Tokenizer.forCheckpoint(LLAMA_STYLE);
    // added tokens are cut out first, then the normalizer prepends "▁" to the piece between them,
    // which decodes as a space: Hugging Face's "legacy" Llama behaviour
    assertArrayEquals(new int[] {1, 271, 2}, llama.encode("<s>hello</s>"));
    assertEquals("<s> hello</s>", llama.decode(new int[] {1, 271, 2}));
    assertEquals(OptionalInt.of(2), llama.eosTokenId());
    assertEquals(OptionalInt.of(1), llama.bosTokenId());
    assertEquals(278, llama.vocabSize());
  }

  /** Mistral's newer layout: a Metaspace pre-tokenizer and decoder, prepend_scheme "first". */
  @Test
  void metaspacePreTokenizer() throws IOException {
    Path dir =
        variant(
            "metaspace",
            Map.of(
                "normalizer", "null",
                "pre_tokenizer",
                    "{\"type\": \"Metaspace\", \"replacement\": \"▁\", \"prepend_scheme\":"
                        + " \"first\", \"split\": false}",
                "decoder",
                    "{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Metaspace\","
                        + " \"replacement\": \"▁\", \"prepend_scheme\": \"first\"},"
                        + " {\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}]}"));
    Tokenizer mistral = Tokenizer.forCheckpoint(dir);
    assertArrayEquals(new int[] {271, 274, 275}, mistral.encode("hello world"));
    assertArrayEquals(new int[] {271}, mistral.encode(" hello")); // already starts with "▁"
    // not at the start of the input: no "▁" is prepended after <s>
    assertArrayEquals(new int[] {1, 260, 261, 269}, mistral.encode("<s>hello"));
    assertArrayEquals(
        new int[] {268, 198, 172, 269, 259, 243, 162, 155, 131, 277}, mistral.encode("héllo 😀!"));
    assertEquals("héllo 😀!", mistral.decode(mistral.encode("héllo 😀!")));
  }

  @Test
  void withoutByteFallbackUnknownCharactersBecomeOneFusedUnk() throws IOException {
    Path dir = variant("no-fallback", Map.of());
    String json = Files.readString(LLAMA_STYLE.resolve("tokenizer.json"));
    Files.writeString(
        dir.resolve("tokenizer.json"),
        json.replace("\"byte_fallback\": true", "\"byte_fallback\": false"));
    Tokenizer t = Tokenizer.forCheckpoint(dir);
    assertArrayEquals(new int[] {268, 0, 269}, t.encode("héllo"));
    assertArrayEquals(new int[] {259, 0, 259, 0}, t.encode("éé x")); // fuse_unk
  }

  /** Qwen2's pre-tokenizer (digits one by one, case-insensitive contractions) on GPT-2's vocab. */
  @Test
  void qwen2StyleSplitRegexThenByteLevel() throws IOException {
    String qwen2Regex =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
            + " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    Tokenizer qwen =
        Tokenizer.forCheckpoint(byteLevelTokenizerJson("qwen2", qwen2Regex, false, true));
    assertArrayEquals(
        new int[] {2043, 6, 50, 220, 16, 17, 18, 19, 20, 267, 6, 15750},
        qwen.encode("IT'S 12345 o'clock"));
    assertArrayEquals(new int[] {31373, 995}, qwen.encode("hello world"));
    assertArrayEquals(new int[] {66, 1878, 2634}, qwen.encode("cafe\u0301")); // NFC first
    assertArrayEquals(new int[] {64, 50256, 65}, qwen.encode("a<|endoftext|>b"));
    assertEquals("IT'S 12345 o'clock", qwen.decode(qwen.encode("IT'S 12345 o'clock")));
    assertEquals(OptionalInt.of(50256), qwen.eosTokenId());
    assertEquals(OptionalInt.empty(), qwen.bosTokenId());
  }

  /** Llama 3: digits in groups of up to three, ignore_merges, merges as [a, b] pairs. */
  @Test
  void llama3StyleIgnoreMerges() throws IOException {
    String llama3Regex =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
            + " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    Tokenizer llama3 =
        Tokenizer.forCheckpoint(byteLevelTokenizerJson("llama3", llama3Regex, true, false));
    assertArrayEquals(
        new int[] {2043, 6, 50, 220, 10163, 2231, 267, 6, 15750},
        llama3.encode("IT'S 12345 o'clock"));
    assertArrayEquals(new int[] {66, 8635, 136, 223}, llama3.encode("cafe\u0301"));
    String text = Gpt2TokenizerTest.resource("sample-text.txt");
    assertEquals(text, llama3.decode(llama3.encode(text)));
  }

  @Test
  void saveWritesTheFilesItReadAndAddsMissingConfigs() throws Exception {
    Path out = temp.resolve("saved-llama");
    Tokenizer.forCheckpoint(LLAMA_STYLE).save(out);
    for (String name : List.of("tokenizer.json", "tokenizer_config.json")) {
      assertEquals(
          Gpt2TokenizerTest.sha256(LLAMA_STYLE.resolve(name)),
          Gpt2TokenizerTest.sha256(out.resolve(name)),
          name);
    }
    String map = Files.readString(out.resolve("special_tokens_map.json"));
    assertTrue(map.contains("\"eos_token\": \"</s>\""), map);
    Tokenizer again = Tokenizer.forCheckpoint(out);
    assertArrayEquals(new int[] {271, 274, 275}, again.encode("hello world"));
  }

  @Test
  void directoryWithoutTokenizerFilesNamesWhatWasLookedFor() throws IOException {
    Path dir = Files.createDirectories(temp.resolve("no-tokenizer"));
    Files.writeString(dir.resolve("config.json"), "{}");
    String m =
        assertThrows(CheckpointException.class, () -> Tokenizer.forCheckpoint(dir)).getMessage();
    assertTrue(m.contains(dir + ": no tokenizer found"), m);
    assertTrue(m.contains("looked for tokenizer.json, then vocab.json + merges.txt"), m);
    assertTrue(m.contains("(the directory has: config.json)"), m);

    Files.writeString(dir.resolve("tokenizer.model"), "");
    m = assertThrows(CheckpointException.class, () -> Tokenizer.forCheckpoint(dir)).getMessage();
    assertTrue(m.contains("SentencePiece tokenizer.model, which is not read"), m);

    Path file = dir.resolve("config.json");
    m = assertThrows(CheckpointException.class, () -> Tokenizer.forCheckpoint(file)).getMessage();
    assertTrue(m.contains("not a directory"), m);
  }

  @Test
  void mergeOfTokensOutsideTheVocabularyIsNamed() throws IOException {
    Path dir = Files.createDirectories(temp.resolve("bad-merges"));
    Files.copy(gpt2Files.resolve("vocab.json"), dir.resolve("vocab.json"));
    Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\nĠ t\nĠ zzzq\n");
    String m =
        assertThrows(CheckpointException.class, () -> Tokenizer.forCheckpoint(dir)).getMessage();
    assertTrue(m.contains("merge 2 \"Ġ zzzq\" uses \"zzzq\", which is not in the vocabulary"), m);

    Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\nĠ t\nĠtoo many parts\n");
    m = assertThrows(CheckpointException.class, () -> Tokenizer.forCheckpoint(dir)).getMessage();
    assertTrue(m.contains("merges.txt:3: a merge must be two tokens separated by one space"), m);
  }

  @Test
  void unsupportedPartsAreNamedWithWhatIsSupported() throws IOException {
    Path dir = variant("whitespace", Map.of("pre_tokenizer", "{\"type\": \"Whitespace\"}"));
    String m =
        assertThrows(CheckpointException.class, () -> Tokenizer.forCheckpoint(dir)).getMessage();
    assertTrue(m.contains("pre_tokenizer: type \"Whitespace\" is not supported"), m);
    assertTrue(m.contains("ByteLevel, Split, Metaspace"), m);

    Path wordPiece = variant("wordpiece", Map.of("model", "{\"type\": \"WordPiece\"}"));
    m =
        assertThrows(CheckpointException.class, () -> Tokenizer.forCheckpoint(wordPiece))
            .getMessage();
    assertTrue(m.contains("model.type is \"WordPiece\"; only BPE tokenizers"), m);
  }

  @Test
  void specialTokenMissingFromTheVocabularyIsNamed() throws IOException {
    Path dir = variant("bad-eos", Map.of());
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"<|im_end|>\"}");
    String m =
        assertThrows(CheckpointException.class, () -> Tokenizer.forCheckpoint(dir)).getMessage();
    assertTrue(m.contains("special token \"<|im_end|>\" is neither in the vocabulary"), m);
  }

  /** A copy of the Llama-style directory with some top-level tokenizer.json fields replaced. */
  private static Path variant(String name, Map<String, String> fields) throws IOException {
    Path dir = Files.createDirectories(temp.resolve(name));
    JsonObject json =
        (JsonObject)
            Json.Default.parseToJsonElement(
                Files.readString(LLAMA_STYLE.resolve("tokenizer.json")));
    Map<String, JsonElement> changed = new LinkedHashMap<>(json);
    fields.forEach((k, v) -> changed.put(k, Json.Default.parseToJsonElement(v)));
    Files.writeString(dir.resolve("tokenizer.json"), new JsonObject(changed).toString());
    Files.copy(LLAMA_STYLE.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
    return dir;
  }

  /** GPT-2's vocabulary and merges in a tokenizer.json with a Split regex before ByteLevel. */
  private static Path byteLevelTokenizerJson(
      String name, String regex, boolean ignoreMerges, boolean nfc) throws IOException {
    Path dir = Files.createDirectories(temp.resolve(name));
    String merges =
        Files.readAllLines(gpt2Files.resolve("merges.txt")).stream()
            .skip(1)
            .map(line -> line.split(" "))
            .map(p -> "[" + quote(p[0]) + "," + quote(p[1]) + "]")
            .collect(Collectors.joining(","));
    String json =
        "{\"version\": \"1.0\","
            + "\"added_tokens\": [{\"id\": 50256, \"content\": \"<|endoftext|>\", \"special\":"
            + " true}],"
            + "\"normalizer\": "
            + (nfc ? "{\"type\": \"NFC\"}" : "null")
            + ","
            + "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
            + "{\"type\": \"Split\", \"pattern\": {\"Regex\": "
            + quote(regex)
            + "}, \"behavior\": \"Isolated\", \"invert\": false},"
            + "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]},"
            + "\"decoder\": {\"type\": \"ByteLevel\"},"
            + "\"model\": {\"type\": \"BPE\", \"ignore_merges\": "
            + ignoreMerges
            + ", \"vocab\": "
            + Files.readString(gpt2Files.resolve("vocab.json"))
            + ", \"merges\": ["
            + merges
            + "]}}";
    Files.writeString(dir.resolve("tokenizer.json"), json);
    return dir;
  }

  private static String quote(String s) {
    return JsonElementKt.JsonPrimitive(s).toString();
  }
}
