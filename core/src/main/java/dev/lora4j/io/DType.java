package dev.lora4j.io;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/** Element types of safetensors files, named as they appear in the header. */
public enum DType {
  F64(8),
  F32(4),
  F16(2),
  BF16(2),
  I64(8),
  I32(4),
  I16(2),
  I8(1),
  U8(1),
  BOOL(1);

  private static final String SUPPORTED =
      Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));

  private final int byteSize;

  DType(int byteSize) {
    this.byteSize = byteSize;
  }

  public int byteSize() {
    return byteSize;
  }

  /** True for the types {@link SafetensorsFile#floats} converts to float. */
  public boolean isFloating() {
    return this == F64 || this == F32 || this == F16 || this == BF16;
  }

  /** The dtype spelled exactly as in a safetensors header ("F32", "BF16", ...). */
  public static DType parse(String name, Path file, String tensor) {
    for (DType dtype : values()) {
      if (dtype.name().equals(name)) {
        return dtype;
      }
    }
    throw new CheckpointException(
        file
            + ": tensor '"
            + tensor
            + "' has unsupported dtype \""
            + name
            + "\"; supported dtypes are "
            + SUPPORTED
            + ". Re-export the checkpoint with one of them (for example torch_dtype float32)");
  }
}
