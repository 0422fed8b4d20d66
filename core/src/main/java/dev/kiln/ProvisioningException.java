package dev.kiln;

import java.util.List;
import java.util.OptionalInt;

/**
 * A layer could not be provisioned: its inputs are missing or unreadable, its content is unsafe, or
 * the command it runs failed. Carries the layer's name and, for commands, the exit code and the
 * last lines of output.
 */
public class ProvisioningException extends BakeException {
  private static final long serialVersionUID = 1L;
  private final String layer;
  private final Integer exitCode;
  private final List<String> outputTail;

  public ProvisioningException(String layer, String message) {
    this(layer, message, null, List.of(), null);
  }

  public ProvisioningException(String layer, String message, Throwable cause) {
    this(layer, message, null, List.of(), cause);
  }

  public ProvisioningException(
      String layer, String message, Integer exitCode, List<String> outputTail, Throwable cause) {
    super(format(layer, message, exitCode, outputTail), cause);
    this.layer = layer;
    this.exitCode = exitCode;
    this.outputTail = List.copyOf(outputTail);
  }

  private static String format(String layer, String message, Integer exitCode, List<String> tail) {
    StringBuilder sb = new StringBuilder("layer '").append(layer).append("': ").append(message);
    if (exitCode != null) {
      sb.append(" (exit code ").append(exitCode).append(')');
    }
    if (!tail.isEmpty()) {
      sb.append("\n--- last ").append(tail.size()).append(" lines of output ---");
      for (String line : tail) {
        sb.append("\n  ").append(line);
      }
    }
    return sb.toString();
  }

  /** The name of the layer that failed. */
  public String layer() {
    return layer;
  }

  /** The exit code of the failing command, if the layer ran one. */
  public OptionalInt exitCode() {
    return exitCode == null ? OptionalInt.empty() : OptionalInt.of(exitCode);
  }

  /** The last lines the failing command printed (empty if none). */
  public List<String> outputTail() {
    return outputTail;
  }
}
