package dev.lora4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lora4j.compile.CompileOptions;
import dev.lora4j.compile.CompileOptions.Device;
import dev.lora4j.compile.CompileOptions.Precision;
import dev.lora4j.data.DataFormat;
import dev.lora4j.data.DataOptions;
import dev.lora4j.quant.Quantization;
import dev.lora4j.train.OptimizerConfig;
import dev.lora4j.train.ScheduleConfig;
import dev.lora4j.train.TrainConfig;
import org.junit.jupiter.api.Test;

/**
 * Each wither of the option records changes its own fields and keeps every other one, and the copy
 * goes through the canonical constructor's checks.
 */
class OptionWithersTest {
  @Test
  void compileOptionsWithers() {
    CompileOptions o = CompileOptions.defaults();
    Quantization nf4 = Quantization.nf4();
    assertEquals(
        new CompileOptions(
            Device.GPU, false, 0, 0, 42L, Precision.F32, Quantization.none(), 0, false),
        o.withDevice(Device.GPU));
    assertEquals(
        new CompileOptions(
            Device.CPU, true, 0, 0, 42L, Precision.F32, Quantization.none(), 0, false),
        o.withXla(true));
    assertEquals(
        new CompileOptions(
            Device.CPU, false, 3, 1, 42L, Precision.F32, Quantization.none(), 0, false),
        o.withThreads(3, 1));
    assertEquals(
        new CompileOptions(Device.CPU, false, 0, 0, 7L, Precision.BF16, nf4, 2, true),
        o.withSeed(7)
            .withPrecision(Precision.BF16)
            .withQuantization(nf4)
            .withAdapterSeats(2)
            .withTrainableBase(true));
    assertEquals(CompileOptions.defaults(), o, "the original is unchanged");
    assertThrows(IllegalArgumentException.class, () -> o.withAdapterSeats(-1));
  }

  @Test
  void dataOptionsWithers() {
    DataOptions o = DataOptions.defaults(16);
    assertEquals(
        new DataOptions(DataFormat.TEXT, "t", "p", "c", 32, 0.25, 9, false, "%"),
        o.withFormat(DataFormat.TEXT)
            .withFields("t", "p", "c")
            .withSeqLen(32)
            .withValidation(0.25, 9)
            .withMaskPrompt(false)
            .withDocumentSeparator("%"));
    assertEquals(
        new DataOptions(null, "text", "prompt", "completion", 64, 0.1, 0, true, null),
        o.withSeqLen(64));
    assertEquals(DataOptions.defaults(16), o, "the original is unchanged");
    assertThrows(IllegalArgumentException.class, () -> o.withSeqLen(1));
    assertThrows(IllegalArgumentException.class, () -> o.withValidation(1.0, 0));
  }

  @Test
  void trainConfigWithers() {
    OptimizerConfig adamW = OptimizerConfig.adamW(1e-3, 0.01);
    TrainConfig o = TrainConfig.defaults(adamW, 100, 4);
    ScheduleConfig cosine = ScheduleConfig.of(ScheduleConfig.Kind.COSINE, 10, 0.1);
    assertEquals(
        new TrainConfig(adamW, cosine, 100, 4, 2, 1.0, 5, 10, 20, 2, 3, 0.01, true),
        o.withSchedule(cosine)
            .withGradAccumulation(2)
            .withMaxGradNorm(1.0)
            .withSeed(5)
            .withEvaluation(10, 3, 0.01)
            .withCheckpoints(20, 2)
            .withFullFineTune(true));
    assertEquals(
        new TrainConfig(
            adamW, ScheduleConfig.constant(), 100, 4, 1, null, 42, 0, 50, 3, 0, 0, false),
        o.withCheckpoints(50, 3));
    assertEquals(TrainConfig.defaults(adamW, 100, 4), o, "the original is unchanged");
  }
}
