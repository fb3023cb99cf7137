package dev.lora4j.compile;

/**
 * How a plan becomes a session.
 *
 * @param device where ops go: CPU, or the first GPU with soft placement (ops without a GPU kernel,
 *     or a build without GPU natives, fall back to the CPU). GPU placement is untested here: no GPU
 *     was available when it was written.
 * @param xla XLA auto-clustering on the CPU (`cpu_global_jit`): faster steps, slower first step
 * @param intraOpThreads 0 lets TensorFlow choose (all cores)
 * @param seed seeds the adapter init (A) and dropout
 */
public record CompileOptions(
    Device device, boolean xla, int intraOpThreads, int interOpThreads, long seed) {

  public enum Device {
    CPU,
    GPU
  }

  public static CompileOptions defaults() {
    return new CompileOptions(Device.CPU, false, 0, 0, 42L);
  }

  public CompileOptions withDevice(Device device) {
    return new CompileOptions(device, xla, intraOpThreads, interOpThreads, seed);
  }

  public CompileOptions withXla(boolean xla) {
    return new CompileOptions(device, xla, intraOpThreads, interOpThreads, seed);
  }

  public CompileOptions withSeed(long seed) {
    return new CompileOptions(device, xla, intraOpThreads, interOpThreads, seed);
  }
}
