package dev.kiln.cli;

import dev.kiln.BakeException;
import dev.kiln.DefinitionException;
import dev.kiln.InvalidTargetException;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The exit codes of {@code kiln}, and how a failure maps to one of them with a one-line message.
 */
public final class Exit {
  /** Done. */
  public static final int OK = 0;

  /**
   * A bake or a publication failed: a layer could not be provisioned, a target refused the image.
   */
  public static final int FAILED = 1;

  /**
   * The command line is wrong: an unknown command or option, a missing argument, a malformed or
   * unknown target.
   */
  public static final int USAGE = 2;

  /** The definition file is missing, does not compile, defines no image, or threw. */
  public static final int DEFINITION = 3;

  /** There is no store where one is needed, it cannot be opened, or it holds no such image. */
  public static final int NOT_FOUND = 4;

  /**
   * {@code kiln verify}: the image is not signed by the key, or a signature or attestation does not
   * check out.
   */
  public static final int NOT_VERIFIED = 5;

  private Exit() {}

  /** A failure: its exit code and the one line that says what went wrong. */
  record Failure(int code, String message) {}

  /** A failure the command itself recognised, with its code. */
  static final class CliException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int code;

    CliException(int code, String message) {
      super(message);
      this.code = code;
    }

    CliException(int code, String message, Throwable cause) {
      super(message, cause);
      this.code = code;
    }

    int code() {
      return code;
    }
  }

  static Failure of(Throwable e) {
    if (e instanceof CliException c) {
      return new Failure(c.code(), oneLine(c.getMessage()));
    }
    if (e instanceof DefinitionException d) {
      return new Failure(DEFINITION, oneLine(d.getMessage()));
    }
    if (e instanceof InvalidTargetException t) {
      return new Failure(USAGE, oneLine(t.getMessage()));
    }
    if (e instanceof BakeException b) {
      return new Failure(FAILED, oneLine(b.getMessage()));
    }
    if (e instanceof IllegalArgumentException a) {
      return new Failure(USAGE, oneLine(a.getMessage()));
    }
    if (e instanceof IOException || e instanceof UncheckedIOException) {
      return new Failure(FAILED, oneLine(e.getMessage()));
    }
    String m = e.getMessage();
    return new Failure(FAILED, oneLine(e.getClass().getSimpleName() + (m == null ? "" : ": " + m)));
  }

  /** A message on one line: line breaks and the indentation after them become one space. */
  static String oneLine(String s) {
    return s == null ? "unknown error" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
  }
}
