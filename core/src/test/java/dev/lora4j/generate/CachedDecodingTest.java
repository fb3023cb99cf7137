package dev.lora4j.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.Conformance;
import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompiledModel;
import dev.lora4j.quant.Quantization;
import java.util.Arrays;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Decoding with cached keys and values gives the logits of rerunning the model on the whole text,
 * token after token, with a trained adapter: learned positions (GPT-2), rotary positions and
 * grouped key/value heads (Llama, Qwen2 with q/k/v biases), f32 and bf16, over float and quantized
 * bases.
 */
class CachedDecodingTest {

  @ParameterizedTest(name = "{0}, {1}")
  @CsvSource({
    "gpt2-tiny, F32",
    "llama-tiny, F32",
    "qwen2-tiny, F32",
    "gpt2-tiny, BF16",
    "qwen2-tiny, BF16"
  })
  void everyStepEqualsTheUncachedLogits(String name, CompileOptions.Precision precision) {
    try (Conformance.AdaptedModel adapted =
        Conformance.withAdapter(
            Conformance.dir(name), CompileOptions.defaults().withPrecision(precision))) {
      CompiledModel model = adapted.model();
      int[] text = {5, 17, 3, 9, 41, 2, 30, 12, 8, 7, 1, 22};
      CompiledModel.CachedDecoder decoder = model.cachedDecoder();
      // A 4-token prompt, then one token at a time.
      int[] prompt = Arrays.copyOf(text, 4);
      assertClose(model.lastLogits(new int[][] {prompt}), decoder.next(prompt), name + " prompt");
      for (int t = 4; t < text.length; t++) {
        float[] cached = decoder.next(new int[] {text[t]});
        float[] full = model.lastLogits(new int[][] {Arrays.copyOf(text, t + 1)});
        assertClose(full, cached, name + " at " + t);
      }
      assertEquals(text.length, decoder.length());
    }
  }

  @ParameterizedTest(name = "{0}, {1} base")
  @CsvSource({"gpt2-tiny, none", "llama-tiny, none", "llama-tiny, nf4", "gpt2-tiny, int8"})
  void greedyGenerationMatchesRerunningTheModel(String name, String storage) {
    Quantization quantization =
        switch (storage) {
          case "nf4" -> Quantization.nf4();
          case "int8" -> Quantization.int8();
          default -> Quantization.none();
        };
    try (Conformance.AdaptedModel adapted =
        Conformance.withAdapter(
            Conformance.dir(name), CompileOptions.defaults().withQuantization(quantization))) {
      CompiledModel model = adapted.model();
      int[] prompt = {5, 17, 3};
      int[] got =
          Generator.generate(model, prompt, SamplingOptions.greedy(10), OptionalInt.empty());
      int[] want = Arrays.copyOf(prompt, prompt.length + 10);
      int vocab = model.config().vocabSize();
      for (int length = prompt.length; length < want.length; length++) {
        float[] logits = model.lastLogits(new int[][] {Arrays.copyOf(want, length)});
        want[length] = Generator.choose(logits, vocab, SamplingOptions.greedy(1), null);
      }
      assertArrayEquals(want, got);
    }
  }

  @Test
  void theCacheRefusesToPassTheModelsPositions() {
    try (Conformance.AdaptedModel adapted =
        Conformance.withAdapter(Conformance.dir("gpt2-tiny"), CompileOptions.defaults())) {
      CompiledModel model = adapted.model();
      int positions = model.config().maxPositions();
      CompiledModel.CachedDecoder decoder = model.cachedDecoder();
      decoder.next(new int[positions - 1]);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> decoder.next(new int[] {1, 2}));
      assertTrue(e.getMessage().contains(positions + " positions"), e.getMessage());
    }
  }

  private static void assertClose(float[] want, float[] got, String what) {
    assertEquals(want.length, got.length, what);
    double worst = 0;
    double scale = 0;
    for (int i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs(want[i] - got[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    assertTrue(scale > 0, what + ": logits must not vanish");
    assertTrue(worst <= 1e-4 * Math.max(1, scale), what + ": largest difference " + worst);
  }
}
