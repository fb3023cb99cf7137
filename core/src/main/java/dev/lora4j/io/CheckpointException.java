package dev.lora4j.io;

/**
 * A checkpoint, adapter or config file that cannot be read or written. The message names the file,
 * the tensor or field, the offending value and what to do about it.
 */
public final class CheckpointException extends RuntimeException {
  public CheckpointException(String message) {
    super(message);
  }

  public CheckpointException(String message, Throwable cause) {
    super(message, cause);
  }
}
