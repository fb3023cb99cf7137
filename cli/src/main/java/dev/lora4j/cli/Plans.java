package dev.lora4j.cli;

import dev.lora4j.dsl.LoraPlan;
import dev.lora4j.script.LoraScripts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Plan files: JSON (LoraPlan.toJson) or a Kotlin script ending in a plan (*.lora.kts). */
final class Plans {
  private Plans() {}

  static LoraPlan load(Path file) throws IOException {
    String name = file.getFileName().toString();
    if (name.endsWith(".lora.kts")) {
      return LoraScripts.evalPlan(file);
    }
    if (name.endsWith(".json")) {
      if (!Files.isRegularFile(file)) {
        throw new IllegalArgumentException(file + ": no such plan file");
      }
      return LoraPlan.fromJson(Files.readString(file));
    }
    throw new IllegalArgumentException(
        file + ": a plan file is plan.json or plan.lora.kts (a Kotlin script ending in lora { })");
  }
}
