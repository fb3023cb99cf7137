package dev.lora4j.bench;

import dev.lora4j.model.Gpt2Config;

/**
 * The two shapes of the PyTorch reference in shared/notes/data-and-models.md: GPT-2 layout with
 * biases, tied head, 1024 learned positions.
 */
public enum BenchConfig {
  /** 4 layers, d 256, 4 heads, vocab 5000; seq 128, batch 8; 20 measured steps. */
  A(new Gpt2Config(5000, 1024, 256, 4, 4, 1024, 1e-5, "gelu_new", true, "float32"), 128, 8, 20),
  /** GPT-2 small: 12 layers, d 768, 12 heads, vocab 50257; seq 128, batch 4; 8 measured steps. */
  B(new Gpt2Config(50257, 1024, 768, 12, 12, 3072, 1e-5, "gelu_new", true, "float32"), 128, 4, 8);

  public final Gpt2Config model;
  public final int seqLen;
  public final int batch;
  public final int measuredSteps;

  BenchConfig(Gpt2Config model, int seqLen, int batch, int measuredSteps) {
    this.model = model;
    this.seqLen = seqLen;
    this.batch = batch;
    this.measuredSteps = measuredSteps;
  }
}
