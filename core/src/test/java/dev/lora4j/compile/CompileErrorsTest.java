package dev.lora4j.compile;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.adapter.PeftAdapter;
import dev.lora4j.dsl.peft.PeftLoraConfig;
import dev.lora4j.io.CheckpointException;
import dev.lora4j.model.Checkpoint;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every user mistake is caught with the name, the value and the fix. */
class CompileErrorsTest {
  static Checkpoint gpt2;
  static CompiledModel model;

  @BeforeAll
  static void open() {
    gpt2 = Checkpoint.open(Conformance.dir("gpt2-tiny"));
    model = ModelCompiler.compile(gpt2, List.of(), CompileOptions.defaults());
  }

  @AfterAll
  static void close() {
    model.close();
    gpt2.close();
  }

  private static LoraModuleSpec spec(String module, int rank) {
    return new LoraModuleSpec(
        module,
        rank,
        8,
        8.0 / Math.max(rank, 1),
        0,
        dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM,
        List.of());
  }

  @Test
  void inputIdOutsideTheVocabularyIsNamed() {
    String m =
        assertThrows(IllegalArgumentException.class, () -> model.logits(new int[][] {{1, 97}}))
            .getMessage();
    assertTrue(m.contains("input_ids[0][1] = 97 is outside the vocabulary [0, 97)"), m);
  }

  @Test
  void sequenceLongerThanThePositionTableIsRefused() {
    int[][] ids = new int[1][65];
    String m = assertThrows(IllegalArgumentException.class, () -> model.logits(ids)).getMessage();
    assertTrue(m.contains("sequence length 65 is longer than the model's 64 positions"), m);
  }

  @Test
  void aSeqLenLongerThanThePositionTableIsRefusedBeforeAnyData() {
    gpt2.config().requireSeqLenFits(64);
    String m =
        assertThrows(IllegalArgumentException.class, () -> gpt2.config().requireSeqLenFits(65))
            .getMessage();
    assertTrue(
        m.contains(
            "seq_len 65 is longer than this gpt2 model's 64 positions (n_positions in"
                + " config.json); set seq_len to at most 64"),
        m);
  }

  @Test
  void raggedRowsAreRefused() {
    String m =
        assertThrows(IllegalArgumentException.class, () -> model.logits(new int[][] {{1, 2}, {3}}))
            .getMessage();
    assertTrue(m.contains("row 1 has 1"), m);
  }

  @Test
  void targetMatchingNothingListsTheNamesAndTheClosest() {
    PeftLoraConfig config =
        PeftLoraConfig.fromJson(
            "{\"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"c_atn\"]}", "test");
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () -> LoraTargets.resolve(config, gpt2.architecture().projections()))
            .getMessage();
    assertTrue(m.contains("matches no projection"), m);
    assertTrue(m.contains("attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj"), m);
    assertTrue(m.contains("closest to c_atn: attn.c_attn"), m);
  }

  @Test
  void rankBelowOneIsRefusedBeforeAnythingIsAllocated() {
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () ->
                    ModelCompiler.validate(
                        gpt2.architecture(), List.of(spec("transformer.h.0.attn.c_attn", 0))))
            .getMessage();
    assertTrue(
        m.contains(
            "rank must be between 1 and 48 for transformer.h.0.attn.c_attn (in 48, out 144),"
                + " was 0"),
        m);
  }

  @Test
  void rankAboveMinInOutIsRefused() {
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () ->
                    ModelCompiler.validate(
                        gpt2.architecture(), List.of(spec("transformer.h.0.mlp.c_proj", 49))))
            .getMessage();
    assertTrue(m.contains("between 1 and 48"), m);
    assertTrue(m.contains("was 49"), m);
  }

  @Test
  void unknownSliceIsNamed() {
    LoraModuleSpec spec =
        new LoraModuleSpec(
            "transformer.h.0.attn.c_attn",
            4,
            8,
            2,
            0,
            dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM,
            List.of("x"));
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () -> ModelCompiler.validate(gpt2.architecture(), List.of(spec)))
            .getMessage();
    assertTrue(m.contains("slice 'x' of transformer.h.0.attn.c_attn does not exist"), m);
    assertTrue(m.contains("[q, k, v]"), m);
  }

  @Test
  void adapterForAnotherArchitectureNamesTheKey() {
    PeftAdapter llamaAdapter = PeftAdapter.load(Conformance.dir("llama-tiny").resolve("adapter"));
    String m =
        assertThrows(CheckpointException.class, () -> llamaAdapter.specsFor(gpt2.architecture()))
            .getMessage();
    assertTrue(m.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"), m);
    assertTrue(m.contains("does not have"), m);
  }

  @Test
  void adapterForAnotherSizeNamesTheShapes() {
    PeftAdapter llamaAdapter = PeftAdapter.load(Conformance.dir("llama-tiny").resolve("adapter"));
    try (Checkpoint qwen = Checkpoint.open(Conformance.dir("qwen2-tiny"))) {
      String m =
          assertThrows(CheckpointException.class, () -> llamaAdapter.specsFor(qwen.architecture()))
              .getMessage();
      assertTrue(m.contains("has shape [4, 64] but the model needs [4, 32]"), m);
    }
  }
}
