package dev.lora4j.cli;

import dev.lora4j.compile.CompileOptions;
import dev.lora4j.train.ScheduleConfig;
import java.util.Locale;

/** Option values several commands share, with messages that list the allowed values. */
final class CliParsing {
  private CliParsing() {}

  static CompileOptions.Precision precision(String value) {
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "f32", "float32", "fp32" -> CompileOptions.Precision.F32;
      case "bf16", "bfloat16" -> CompileOptions.Precision.BF16;
      default ->
          throw new IllegalArgumentException(
              "--precision must be f32 or bf16, was '" + value + "'");
    };
  }

  static ScheduleConfig.Kind scheduleKind(String value) {
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "constant" -> ScheduleConfig.Kind.CONSTANT;
      case "linear" -> ScheduleConfig.Kind.LINEAR;
      case "cosine" -> ScheduleConfig.Kind.COSINE;
      default ->
          throw new IllegalArgumentException(
              "--schedule must be constant, linear or cosine, was '" + value + "'");
    };
  }

  static dev.lora4j.dsl.LoraInit loraInit(String value) {
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "kaiming", "kaiming_uniform", "kaiming-uniform" ->
          dev.lora4j.dsl.LoraInit.KAIMING_UNIFORM;
      case "gaussian" -> dev.lora4j.dsl.LoraInit.GAUSSIAN;
      default ->
          throw new IllegalArgumentException(
              "--init must be kaiming or gaussian, was '" + value + "'");
    };
  }
}
