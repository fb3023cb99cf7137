package dev.lora4j.compile;

import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.ByteDataBuffer;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.ndarray.buffer.FloatDataBuffer;
import org.tensorflow.types.TFloat32;

/**
 * Copies checkpoint bytes into TensorFlow tensors without a heap copy of the whole tensor: F32
 * bytes are copied as they are and BF16/F16/F64 are converted, both through a small heap chunk.
 */
final class HostTensors {
  private static final int CHUNK = 1 << 16;

  private HostTensors() {}

  static TFloat32 toFloat32(TensorInfo info, ByteBuffer stored) {
    ByteBuffer src = stored.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    TFloat32 tensor = TFloat32.tensorOf(Shape.of(info.shape()));
    try {
      long n = info.numel();
      switch (info.dtype()) {
        case F32 -> copyBytes(src, tensor.asRawTensor().data(), n * 4);
        case BF16, F16, F64 -> convert(info, src, tensor.asRawTensor().data().asFloats(), n);
        default ->
            throw new CheckpointException(
                "tensor '" + info.name() + "' has dtype " + info.dtype() + "; expected floats");
      }
      return tensor;
    } catch (RuntimeException e) {
      tensor.close();
      throw e;
    }
  }

  /**
   * Bulk copy through a heap chunk: TF Java's {@code DataBuffers.of(ByteBuffer).copyTo(raw)} takes
   * a byte-at-a-time fallback for a (memory-mapped) NIO source, ~5 s for a 135 M-parameter model.
   */
  private static void copyBytes(ByteBuffer src, ByteDataBuffer dst, long bytes) {
    byte[] chunk = new byte[(int) Math.min(CHUNK * 16L, bytes)];
    long done = 0;
    while (done < bytes) {
      int count = (int) Math.min(chunk.length, bytes - done);
      src.get(chunk, 0, count);
      dst.offset(done).write(chunk, 0, count);
      done += count;
    }
  }

  private static void convert(TensorInfo info, ByteBuffer src, FloatDataBuffer dst, long n) {
    float[] chunk = new float[(int) Math.min(CHUNK, n)];
    long done = 0;
    while (done < n) {
      int count = (int) Math.min(chunk.length, n - done);
      for (int i = 0; i < count; i++) {
        chunk[i] =
            switch (info.dtype()) {
              case BF16 -> Float.intBitsToFloat((src.getShort() & 0xffff) << 16);
              case F16 -> halfToFloat(src.getShort());
              default -> (float) src.getDouble();
            };
      }
      dst.offset(done).write(chunk, 0, count);
      done += count;
    }
  }

  /** IEEE 754 binary16 to float (Float.float16ToFloat needs Java 20). */
  static float halfToFloat(short bits) {
    int h = bits & 0xffff;
    int sign = (h >>> 15) << 31;
    int exponent = (h >>> 10) & 0x1f;
    int mantissa = h & 0x3ff;
    if (exponent == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
    }
    if (exponent == 0) {
      float value = mantissa * 0x1p-24f;
      return sign == 0 ? value : -value;
    }
    return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }

  static TFloat32 of(long[] shape, float[] values) {
    return TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(values, true, false));
  }

  static float[] toArray(TFloat32 tensor) {
    float[] out = new float[(int) tensor.size()];
    tensor.asRawTensor().data().asFloats().read(out);
    return out;
  }
}
