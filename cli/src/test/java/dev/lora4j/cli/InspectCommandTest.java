package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.analysis.ModuleSpectrum;
import java.nio.file.Path;
import java.util.Map;
import kotlinx.serialization.json.Json;
import kotlinx.serialization.json.JsonArray;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonObject;
import kotlinx.serialization.json.JsonPrimitive;
import org.junit.jupiter.api.Test;

/** `lora4j inspect` and `lora4j compare` end to end on the conformance adapters. */
class InspectCommandTest {
  static final Path GPT2 = LogitsCommandTest.conformance("gpt2-tiny");
  static final Path GPT2_ADAPTER = GPT2.resolve("adapter");
  static final Path GPT2_STEP3 = GPT2.resolve("train/adapter_step3");
  static final Path LLAMA_ADAPTER = LogitsCommandTest.conformance("llama-tiny").resolve("adapter");

  static JsonObject parse(String stdout) {
    return (JsonObject) Json.Default.parseToJsonElement(stdout.trim());
  }

  static double number(JsonElement e) {
    return Double.parseDouble(((JsonPrimitive) e).getContent());
  }

  @Test
  void inspectJsonHasEveryModuleWithItsSpectrumAndNoAmplificationWithoutAModel() {
    String[] r =
        PlanCommandTest.capture(
            () -> Lora4j.run("inspect", "--adapter", GPT2_ADAPTER.toString(), "--json"));
    assertEquals("0", r[0], r[2]);
    JsonArray modules = (JsonArray) parse(r[1]).get("modules");
    Map<String, ModuleSpectrum> want = ModuleSpectrum.of(PeftAdapter.load(GPT2_ADAPTER));
    assertEquals(6, modules.size());
    for (JsonElement e : modules) {
      JsonObject m = (JsonObject) e;
      String name = ((JsonPrimitive) m.get("name")).getContent();
      ModuleSpectrum s = want.get(name);
      JsonArray values = (JsonArray) m.get("singular_values");
      assertEquals(4, values.size(), name);
      for (int k = 0; k < 4; k++) {
        assertEquals(s.singularValues()[k], number(values.get(k)), 1e-12, name);
      }
      JsonObject rank = (JsonObject) m.get("effective_rank");
      assertEquals(s.entropyRank(), number(rank.get("entropy")), 1e-12);
      assertEquals(s.energyRank(), number(rank.get("energy_90")));
      assertEquals(s.frobenius(), number(m.get("frobenius")), 1e-12);
      assertEquals(s.spectral(), number(m.get("spectral")), 1e-12);
      assertFalse(m.containsKey("amplification"), name);
    }
  }

  @Test
  void inspectWithTheModelAddsAmplificationAndPrintsATable() {
    String[] r =
        PlanCommandTest.capture(
            () ->
                Lora4j.run(
                    "inspect",
                    "--adapter",
                    GPT2_ADAPTER.toString(),
                    "--model",
                    GPT2.toString(),
                    "--json"));
    assertEquals("0", r[0], r[2]);
    for (JsonElement e : (JsonArray) parse(r[1]).get("modules")) {
      JsonObject amp = (JsonObject) ((JsonObject) e).get("amplification");
      double ratio = number(amp.get("ratio"));
      assertEquals(
          number(amp.get("dw_frobenius")) / number(amp.get("utwv_frobenius")), ratio, 1e-9 * ratio);
      assertEquals(
          number(((JsonObject) e).get("frobenius")), number(amp.get("dw_frobenius")), 1e-9);
    }
    String[] table =
        PlanCommandTest.capture(
            () ->
                Lora4j.run(
                    "inspect", "--adapter", GPT2_ADAPTER.toString(), "--model", GPT2.toString()));
    assertEquals("0", table[0], table[2]);
    assertTrue(table[1].contains("6 modules"), table[1]);
    assertTrue(table[1].contains("amplification"), table[1]);
    assertTrue(table[1].contains("transformer.h.1.mlp.c_proj"), table[1]);
  }

  @Test
  void inspectAgainstAnotherArchitectureFailsWithExitCode1() {
    String[] r =
        PlanCommandTest.capture(
            () ->
                Lora4j.run(
                    "inspect", "--adapter", LLAMA_ADAPTER.toString(), "--model", GPT2.toString()));
    assertEquals("1", r[0]);
    assertTrue(r[2].contains("model.layers.0.self_attn.q_proj"), r[2]);
  }

  @Test
  void compareGivesAFourByFourPhiPerCommonModuleAndASummary() {
    String[] r =
        PlanCommandTest.capture(
            () ->
                Lora4j.run(
                    "compare",
                    "--adapter",
                    GPT2_ADAPTER.toString(),
                    "--adapter",
                    GPT2_STEP3.toString(),
                    "--json"));
    assertEquals("0", r[0], r[2]);
    JsonObject o = parse(r[1]);
    JsonArray modules = (JsonArray) o.get("modules");
    assertEquals(6, modules.size());
    for (JsonElement e : modules) {
      JsonObject m = (JsonObject) e;
      JsonArray phi = (JsonArray) m.get("phi");
      assertEquals(4, phi.size());
      double diagonal = 0;
      for (int k = 0; k < 4; k++) {
        JsonArray row = (JsonArray) phi.get(k);
        assertEquals(4, row.size());
        for (JsonElement v : row) {
          assertTrue(number(v) >= -1e-12 && number(v) <= 1 + 1e-12, v.toString());
        }
        diagonal += number(row.get(k)) / 4;
      }
      assertEquals(diagonal, number(m.get("summary")), 1e-12);
    }
    assertEquals(0, ((JsonArray) o.get("only_in_a")).size());

    String[] table =
        PlanCommandTest.capture(
            () ->
                Lora4j.run(
                    "compare",
                    "--adapter",
                    GPT2_ADAPTER.toString(),
                    "--adapter",
                    GPT2_STEP3.toString(),
                    "--module",
                    "transformer.h.0.attn.c_attn"));
    assertEquals("0", table[0], table[2]);
    assertTrue(table[1].contains("transformer.h.0.attn.c_attn  rank 4 vs 4  summary"), table[1]);
    assertTrue(table[1].contains("i=4"), table[1]);
    assertFalse(table[1].contains("transformer.h.1"), table[1]);
  }

  @Test
  void adaptersSharingNoModuleFailWithExitCode1NamingBoth() {
    String[] r =
        PlanCommandTest.capture(
            () ->
                Lora4j.run(
                    "compare",
                    "--adapter",
                    LLAMA_ADAPTER.toString(),
                    "--adapter",
                    GPT2_ADAPTER.toString()));
    assertEquals("1", r[0]);
    assertTrue(r[2].startsWith("lora4j compare: "), r[2]);
    assertTrue(r[2].contains("share no module"), r[2]);
    assertTrue(
        r[2].contains(LLAMA_ADAPTER.toString()) && r[2].contains(GPT2_ADAPTER.toString()), r[2]);
    assertTrue(r[2].contains("transformer.h.0.attn.c_attn"), r[2]);
    assertTrue(r[2].contains("model.layers.0.self_attn.q_proj"), r[2]);
  }

  @Test
  void aModuleInOnlyOneAdapterFailsWithExitCode1() {
    String[] r =
        PlanCommandTest.capture(
            () ->
                Lora4j.run(
                    "compare",
                    "--adapter",
                    GPT2_ADAPTER.toString(),
                    "--adapter",
                    LLAMA_ADAPTER.toString(),
                    "--module",
                    "transformer.h.0.attn.c_attn"));
    assertEquals("1", r[0]);
    assertTrue(r[2].contains("only " + GPT2_ADAPTER), r[2]);
  }

  @Test
  void compareNeedsExactlyTwoAdapters() {
    String[] r =
        PlanCommandTest.capture(() -> Lora4j.run("compare", "--adapter", GPT2_ADAPTER.toString()));
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("exactly twice"), r[2]);
  }
}
