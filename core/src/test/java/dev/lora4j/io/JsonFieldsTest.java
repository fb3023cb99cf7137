package dev.lora4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import kotlinx.serialization.json.Json;
import kotlinx.serialization.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class JsonFieldsTest {
  private static final String SOURCE = "/models/gpt2/config.json";

  @TempDir Path dir;

  private static JsonFields fields(String json) {
    return new JsonFields((JsonObject) Json.Default.parseToJsonElement(json), SOURCE);
  }

  private static void assertMessage(String expected, Executable call) {
    assertEquals(expected, assertThrows(CheckpointException.class, call).getMessage());
  }

  @Test
  void readsTypedValues() {
    JsonFields config =
        fields(
            "{\"n_embd\": 48, \"n_layer\": 12.0, \"eps\": 1e-05, \"act\": \"gelu_new\","
                + " \"tie\": true, \"n_inner\": null, \"targets\": [\"c_attn\", \"c_proj\"]}");
    assertEquals(48, config.requireInt("n_embd"));
    assertEquals(12, config.requireInt("n_layer"));
    assertEquals(1e-5, config.requireDouble("eps"));
    assertEquals(48.0, config.requireDouble("n_embd"));
    assertEquals("gelu_new", config.requireString("act"));
    assertTrue(config.optBoolean("tie", false));
    assertEquals(List.of("c_attn", "c_proj"), config.optStringList("targets"));
  }

  @Test
  void absentAndNullFieldsTakeTheDefault() {
    JsonFields config = fields("{\"n_inner\": null}");
    assertEquals(192, config.optInt("n_inner", 192));
    assertEquals(192, config.optInt("absent", 192));
    assertEquals(0.5, config.optDouble("n_inner", 0.5));
    assertEquals("x", config.optString("n_inner", "x"));
    assertFalse(config.optBoolean("n_inner", false));
    assertEquals(List.of(), config.optStringList("n_inner"));
    assertFalse(config.has("n_inner"));
    assertFalse(config.has("absent"));
    assertNull(config.get("absent"));
    assertEquals("null", config.get("n_inner").toString());
  }

  @Test
  void missingRequiredField() {
    assertMessage(
        SOURCE + ": missing required field 'n_embd'", () -> fields("{}").requireInt("n_embd"));
    assertMessage(
        SOURCE + ": required field 'n_embd' is null",
        () -> fields("{\"n_embd\": null}").requireInt("n_embd"));
  }

  @Test
  void integerMessages() {
    assertMessage(
        SOURCE + ": field 'n_embd' must be an integer, was \"abc\"",
        () -> fields("{\"n_embd\": \"abc\"}").requireInt("n_embd"));
    assertMessage(
        SOURCE + ": field 'n_embd' must be an integer, was 12.5",
        () -> fields("{\"n_embd\": 12.5}").requireInt("n_embd"));
    assertMessage(
        SOURCE + ": field 'n_embd' must be an integer, was \"12\"",
        () -> fields("{\"n_embd\": \"12\"}").optInt("n_embd", 1));
    assertMessage(
        SOURCE + ": field 'n_embd' must be an integer, was [48]",
        () -> fields("{\"n_embd\": [48]}").requireInt("n_embd"));
    assertMessage(
        SOURCE + ": field 'n_embd' must be an integer between -2147483648 and 2147483647, was 1e20",
        () -> fields("{\"n_embd\": 1e20}").requireInt("n_embd"));
    assertMessage(
        SOURCE + ": field 'n_embd' must be an integer, was NaN",
        () -> fields("{\"n_embd\": NaN}").requireInt("n_embd"));
    assertEquals(-7, fields("{\"x\": -7}").requireInt("x"));
    assertEquals(1200, fields("{\"x\": 1.2e3}").requireInt("x"));
  }

  @Test
  void otherTypeMessages() {
    assertMessage(
        SOURCE + ": field 'eps' must be a finite number, was \"1e-5\"",
        () -> fields("{\"eps\": \"1e-5\"}").requireDouble("eps"));
    assertMessage(
        SOURCE + ": field 'eps' must be a finite number, was 1e999",
        () -> fields("{\"eps\": 1e999}").optDouble("eps", 0));
    assertMessage(
        SOURCE + ": field 'act' must be a string, was 3",
        () -> fields("{\"act\": 3}").requireString("act"));
    assertMessage(
        SOURCE + ": field 'tie' must be true or false, was \"true\"",
        () -> fields("{\"tie\": \"true\"}").optBoolean("tie", false));
    assertMessage(
        SOURCE + ": field 'targets' must be a list of strings, was \"c_attn\"",
        () -> fields("{\"targets\": \"c_attn\"}").optStringList("targets"));
    assertMessage(
        SOURCE + ": field 'targets' must be a list of strings, was [\"a\",1]",
        () -> fields("{\"targets\": [\"a\", 1]}").optStringList("targets"));
  }

  @Test
  void nestedObjectsNameFieldsWithADottedPath() {
    JsonFields adapter = fields("{\"rank_pattern\": {\"v_proj\": 8, \"q_proj\": \"x\"}}");
    JsonFields ranks = adapter.optObject("rank_pattern");
    assertEquals(8, ranks.requireInt("v_proj"));
    assertMessage(
        SOURCE + ": field 'rank_pattern.q_proj' must be an integer, was \"x\"",
        () -> ranks.requireInt("q_proj"));
    assertFalse(adapter.optObject("alpha_pattern").has("anything"));
    assertMessage(
        SOURCE + ": field 'rank_pattern' must be an object {...}, was 3",
        () -> fields("{\"rank_pattern\": 3}").optObject("rank_pattern"));
  }

  @Test
  void longValuesAreShortenedInMessages() {
    String longText = "x".repeat(500);
    String message =
        assertThrows(
                CheckpointException.class,
                () -> fields("{\"n\": \"" + longText + "\"}").requireInt("n"))
            .getMessage();
    assertTrue(message.length() < 250, message);
    assertTrue(message.endsWith("..."), message);
  }

  @Test
  void parseReadsAFile() throws IOException {
    Path file = dir.resolve("config.json");
    Files.writeString(file, "{\"n_embd\": 48}");
    JsonFields config = JsonFields.parse(file);
    assertEquals(48, config.requireInt("n_embd"));
    assertEquals(file.toString(), config.source());
    assertMessage(file + ": missing required field 'n_head'", () -> config.requireInt("n_head"));
  }

  @Test
  void parseRejectsMissingFilesBadJsonAndNonObjects() throws IOException {
    Path missing = dir.resolve("missing.json");
    assertMessage(missing + ": file not found; check the path", () -> JsonFields.parse(missing));

    Path notJson = dir.resolve("bad.json");
    Files.writeString(notJson, "{\"n_embd\": 48,");
    String message =
        assertThrows(CheckpointException.class, () -> JsonFields.parse(notJson)).getMessage();
    assertTrue(message.startsWith(notJson + ": not valid JSON ("), message);
    assertTrue(message.endsWith("; re-download or fix the file"), message);

    Path array = dir.resolve("array.json");
    Files.writeString(array, "[1, 2]");
    assertMessage(
        array + ": must hold a JSON object {...}, was [1,2]; re-download or fix the file",
        () -> JsonFields.parse(array));

    Path deep = dir.resolve("deep.json");
    Files.writeString(deep, "{\"a\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}");
    assertMessage(
        deep + ": JSON nests deeper than 128 levels; re-download or fix the file",
        () -> JsonFields.parse(deep));

    Path binary = dir.resolve("binary.json");
    Files.write(binary, new byte[] {'{', (byte) 0xff, '}'});
    String utf8 =
        assertThrows(CheckpointException.class, () -> JsonFields.parse(binary)).getMessage();
    assertTrue(utf8.contains("UTF-8"), utf8);
  }

  @Test
  void readsTheVendoredConfigs() {
    JsonFields gpt2 = JsonFields.parse(TestFiles.conformance().resolve("gpt2-tiny/config.json"));
    assertEquals(97, gpt2.requireInt("vocab_size"));
    assertEquals(4 * 48, gpt2.optInt("n_inner", 4 * gpt2.requireInt("n_embd")));
    assertEquals(1e-5, gpt2.requireDouble("layer_norm_epsilon"));
    assertEquals(List.of("GPT2LMHeadModel"), gpt2.optStringList("architectures"));

    JsonFields adapter =
        JsonFields.parse(TestFiles.conformance().resolve("llama-tiny/adapter/adapter_config.json"));
    assertEquals(8, adapter.optObject("rank_pattern").requireInt("v_proj"));
    assertEquals(List.of("q_proj", "v_proj"), adapter.optStringList("target_modules"));
  }
}
