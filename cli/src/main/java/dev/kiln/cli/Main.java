package dev.kiln.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;

/**
 * The {@code kiln} command: {@code run}, {@code images}, {@code inspect} and {@code copy}. Errors
 * are one line on standard error, {@code kiln: …}, and an exit code a script can act on ({@link
 * Exit}).
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    quietLogs();
    System.exit(run(args, System.out, System.err, System.console() != null));
  }

  /**
   * Runs one command line and returns its exit code. {@code terminal}: whether a person watches
   * (progress is shown on {@code err}); otherwise only results and errors are printed.
   */
  public static int run(String[] args, PrintStream out, PrintStream err, boolean terminal) {
    CommandLine cl = new CommandLine(new KilnCommand(terminal));
    cl.setOut(new PrintWriter(new java.io.OutputStreamWriter(out, StandardCharsets.UTF_8), true));
    cl.setErr(new PrintWriter(new java.io.OutputStreamWriter(err, StandardCharsets.UTF_8), true));
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setParameterExceptionHandler(
        (ex, a) -> {
          CommandLine c = ex.getCommandLine();
          c.getErr()
              .println(
                  "kiln: "
                      + Exit.oneLine(ex.getMessage())
                      + " (see '"
                      + c.getCommandSpec().qualifiedName()
                      + " --help')");
          return Exit.USAGE;
        });
    cl.setExecutionExceptionHandler(
        (ex, c, parsed) -> {
          Exit.Failure f = Exit.of(ex);
          c.getErr().println("kiln: " + f.message());
          return f.code();
        });
    return cl.execute(args);
  }

  /**
   * Kiln's own diagnostics: warnings and errors only, on standard error, unless the user configured
   * otherwise.
   */
  static void quietLogs() {
    System.setProperty(
        "org.slf4j.simpleLogger.defaultLogLevel",
        System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
    System.setProperty(
        "org.slf4j.simpleLogger.showThreadName",
        System.getProperty("org.slf4j.simpleLogger.showThreadName", "false"));
    System.setProperty(
        "org.slf4j.simpleLogger.showShortLogName",
        System.getProperty("org.slf4j.simpleLogger.showShortLogName", "true"));
  }
}
