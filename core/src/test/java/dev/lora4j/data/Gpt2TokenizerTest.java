package dev.lora4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The built-in GPT-2 tokenizer (jtokkit) against ids from Hugging Face, and against this package's
 * own BPE reading the files that {@code save} writes.
 */
class Gpt2TokenizerTest {
  /** sha256 of OpenAI's encoder.json and vocab.bpe, which Hugging Face's gpt2 repository holds. */
  static final String ENCODER_JSON_SHA256 =
      "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783";

  static final String VOCAB_BPE_SHA256 =
      "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5";

  @TempDir static Path saved;
  static Tokenizer gpt2;
  static Tokenizer readBack;

  @BeforeAll
  static void saveAndReadBack() {
    gpt2 = Tokenizer.gpt2();
    gpt2.save(saved);
    readBack = Tokenizer.forCheckpoint(saved);
  }

  /** Ids from Hugging Face's tokenizers crate (0.21, through DJL) on GPT-2's own files. */
  static Stream<Arguments> huggingFaceIds() {
    return Stream.of(
        Arguments.of("Hello world", new int[] {15496, 995}),
        Arguments.of(" Hello world!", new int[] {18435, 995, 0}),
        Arguments.of(
            "It's 2024; they're here, we've won. I'm sure you'll see, he'd go.",
            new int[] {
              1026, 338, 48609, 26, 484, 821, 994, 11, 356, 1053, 1839, 13, 314, 1101, 1654, 345,
              1183, 766, 11, 339, 1549, 467, 13
            }),
        Arguments.of(
            "  two  spaces   and tab\tend  ",
            new int[] {220, 734, 220, 9029, 220, 220, 290, 7400, 197, 437, 220, 220}),
        Arguments.of(
            "héllo wörld — 你好 🤖👍🏽",
            new int[] {
              71, 2634, 18798, 266, 30570, 335, 851, 220, 19526, 254, 25001, 121, 12520, 97, 244,
              41840, 235, 8582, 237, 121
            }),
        Arguments.of("12345 3.14159 100%", new int[] {10163, 2231, 513, 13, 1415, 19707, 1802, 4}),
        Arguments.of("a<|endoftext|>b", new int[] {64, 50256, 65}),
        Arguments.of(
            "line1\nline2\n\nline4", new int[] {1370, 16, 198, 1370, 17, 198, 198, 1370, 19}),
        Arguments.of("", new int[] {}));
  }

  @ParameterizedTest(name = "\"{0}\"")
  @MethodSource("huggingFaceIds")
  void builtInAndSavedFilesGiveHuggingFacesIds(String text, int[] expected) {
    assertArrayEquals(expected, gpt2.encode(text), "jtokkit");
    assertArrayEquals(expected, readBack.encode(text), "BPE on the saved files");
    assertEquals(text, gpt2.decode(expected));
    assertEquals(text, readBack.decode(expected));
  }

  @Test
  void savedFilesAreOpenAisFilesByteForByte() throws Exception {
    assertEquals(ENCODER_JSON_SHA256, sha256(saved.resolve("vocab.json")));
    assertEquals(VOCAB_BPE_SHA256, sha256(saved.resolve("merges.txt")));
    String config = Files.readString(saved.resolve("tokenizer_config.json"));
    assertTrue(config.contains("\"tokenizer_class\": \"GPT2Tokenizer\""), config);
    assertTrue(config.contains("\"eos_token\": \"<|endoftext|>\""), config);
    assertTrue(
        Files.readString(saved.resolve("special_tokens_map.json"))
            .contains("\"bos_token\": \"<|endoftext|>\""));
  }

  @Test
  void vocabularyAndSpecialTokens() {
    for (Tokenizer t : List.of(gpt2, readBack)) {
      assertEquals(50257, t.vocabSize(), t.toString());
      assertEquals(OptionalInt.of(50256), t.eosTokenId(), t.toString());
      assertEquals(OptionalInt.of(50256), t.bosTokenId(), t.toString());
    }
  }

  @Test
  void sampleTextGivesTheSameIdsLineByLineAndWhole() throws IOException {
    String text = resource("sample-text.txt");
    assertSameIds(text.lines().toList());
    assertSameIds(List.of(text));
    assertEquals(text, readBack.decode(gpt2.encode(text)));
  }

  /** The shipped corpora (samples/data): 25,000 lines of real English text. */
  @Test
  void shippedCorporaGiveTheSameIds() throws IOException {
    Path data = Path.of(System.getProperty("lora4j.samples", "../samples/data"));
    List<String> lines = new ArrayList<>();
    for (String name : List.of("fortunes.txt.gz", "kjv.txt.gz")) {
      try (var in = new java.util.zip.GZIPInputStream(Files.newInputStream(data.resolve(name)))) {
        List<String> all = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        lines.addAll(all.subList(0, Math.min(all.size(), 12_500)));
      }
    }
    assertTrue(lines.size() > 20_000, "the shipped corpora hold " + lines.size() + " lines");
    assertSameIds(lines);
  }

  /** Random mixes of the cases that split words differently: scripts, emoji, digits, spaces. */
  @Test
  void randomMixedStringsGiveTheSameIds() {
    String[] fragments = {
      "the",
      " quick",
      "Brown",
      "FOX",
      " ",
      "  ",
      "   ",
      "\t",
      "\n",
      "\r\n",
      "\n\n",
      "'s",
      "'re",
      "'ve",
      "'ll",
      "'d",
      "'m",
      "'t",
      "'S",
      "'RE",
      "'",
      "0",
      "7",
      "42",
      "2024",
      " 3.14",
      "1,000",
      "😀",
      "👍🏽",
      "👨‍👩‍👧",
      "🇫🇷",
      "你好",
      "日本語",
      "é",
      "e\u0301",
      "ß",
      "Ωμέγα",
      "привет",
      "مرحبا",
      "\u00a0",
      "\u2009",
      "\u3000",
      "\u2028",
      ".",
      ",",
      "!?",
      "...",
      "—",
      "“",
      "”",
      "(",
      ")",
      "<",
      "|",
      "<|endoftext|>",
      "_",
      "-",
      "#",
      "$",
      "%",
      "&",
      "{\"a\": 1}",
      "x",
      "A",
      "z9",
      "_x_"
    };
    Random random = new Random(7);
    List<String> strings = new ArrayList<>();
    for (int i = 0; i < 5000; i++) {
      StringBuilder s = new StringBuilder();
      for (int n = 1 + random.nextInt(12); n > 0; n--) {
        s.append(fragments[random.nextInt(fragments.length)]);
      }
      strings.add(s.toString());
    }
    assertSameIds(strings);
  }

  @Test
  void idsOutsideTheVocabularyAreRefusedByDecode() {
    for (Tokenizer t : List.of(gpt2, readBack)) {
      String m =
          assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {50257}))
              .getMessage();
      assertTrue(m.contains("token id 50257 is not in the"), m);
      assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {-1}));
    }
  }

  private static void assertSameIds(List<String> texts) {
    for (String text : texts) {
      int[] expected = gpt2.encode(text);
      assertArrayEquals(expected, readBack.encode(text), () -> "ids of \"" + text + "\"");
      assertEquals(gpt2.decode(expected), readBack.decode(expected), () -> "decode of " + text);
    }
  }

  static String resource(String name) {
    try {
      return Files.readString(resourcePath(name));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Path resourcePath(String name) {
    try {
      return Path.of(Gpt2TokenizerTest.class.getResource("/data/" + name).toURI());
    } catch (Exception e) {
      throw new IllegalStateException("test resource /data/" + name + " is missing", e);
    }
  }

  static String sha256(Path file) throws Exception {
    return HexFormat.of()
        .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
  }
}
