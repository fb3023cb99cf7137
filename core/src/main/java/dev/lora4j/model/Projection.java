package dev.lora4j.model;

import java.util.List;

/**
 * One linear projection of an architecture, named by its checkpoint module path (`transformer.h.0
 * .attn.c_attn`, `model.layers.3.self_attn.q_proj`). Targets, PEFT keys and graph ops all use this
 * name.
 *
 * @param layout how the checkpoint stores the weight
 * @param slices the named output slices of a fused projection (GPT-2's c_attn: q, k, v), in order;
 *     empty for an ordinary projection
 */
public record Projection(
    String name, int in, int out, boolean bias, Layout layout, List<Slice> slices) {

  /** How a checkpoint stores a projection weight. */
  public enum Layout {
    /** torch nn.Linear: weight [out, in], y = x W^T. */
    LINEAR,
    /** GPT-2's Conv1D: weight [in, out], y = x W (PEFT's fan_in_fan_out). */
    CONV1D
  }

  /** A named range of a fused projection's output columns. */
  public record Slice(String name, int offset, int size) {}

  public Projection {
    slices = List.copyOf(slices);
  }

  public static Projection linear(String name, int in, int out, boolean bias) {
    return new Projection(name, in, out, bias, Layout.LINEAR, List.of());
  }

  public String weightKey() {
    return name + ".weight";
  }

  public String biasKey() {
    return name + ".bias";
  }

  /** The stored weight's shape: [out, in] for LINEAR, [in, out] for CONV1D. */
  public long[] weightShape() {
    return layout == Layout.LINEAR ? new long[] {out, in} : new long[] {in, out};
  }

  public Slice slice(String sliceName) {
    for (Slice s : slices) {
      if (s.name().equals(sliceName)) {
        return s;
      }
    }
    return null;
  }

  /** The block index in the module path (`...h.3...` or `...layers.3...`), or -1. */
  public int layerIndex() {
    String[] parts = name.split("\\.");
    for (int i = 0; i + 1 < parts.length; i++) {
      if ((parts[i].equals("h") || parts[i].equals("layers")) && parts[i + 1].matches("\\d+")) {
        return Integer.parseInt(parts[i + 1]);
      }
    }
    return -1;
  }

  public long parameterCount() {
    return (long) in * out + (bias ? out : 0);
  }
}
