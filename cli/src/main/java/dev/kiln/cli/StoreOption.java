package dev.kiln.cli;

import dev.kiln.Kiln;
import dev.kiln.event.BakeListener;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import picocli.CommandLine.Option;

/** {@code --store DIR}, shared by every command. */
final class StoreOption {
  @Option(
      names = "--store",
      paramLabel = "DIR",
      description =
          "The local store. Default: -Dkiln.store, else $KILN_STORE, else $XDG_CACHE_HOME/kiln, "
              + "else ~/.cache/kiln.")
  Path store;

  Path path() {
    return (store != null ? store : Kiln.defaultStorePath()).toAbsolutePath().normalize();
  }

  /** The store for a command that reads it: it must exist. */
  Path existing() {
    Path p = path();
    if (!Files.isDirectory(p) || !Files.isRegularFile(p.resolve("oci-layout"))) {
      throw new Exit.CliException(
          Exit.NOT_FOUND,
          "no Kiln store at "
              + p
              + (Files.exists(p) ? " (it is not an OCI layout that Kiln made)" : "")
              + ": bake into it first, or name another with --store DIR");
    }
    return p;
  }

  /**
   * A Kiln on the store (created if it does not exist), with the remote cache of {@code
   * $KILN_REMOTE_CACHE} as {@link Kiln#defaults()} has it, and the listener when there is one.
   */
  Kiln open(BakeListener listener) {
    return open(listener, b -> {});
  }

  /** {@link #open(BakeListener)}, with more settings ({@code --sbom}, {@code --sign-key}, …). */
  Kiln open(BakeListener listener, Consumer<Kiln.Builder> settings) {
    Path p = path();
    Kiln.Builder b = Kiln.builder().store(p);
    settings.accept(b);
    try {
      b.remoteCacheFromEnvironment();
    } catch (IllegalArgumentException e) {
      throw new Exit.CliException(Exit.USAGE, "$KILN_REMOTE_CACHE: " + e.getMessage(), e);
    }
    if (listener != null) {
      b.listener(listener);
    }
    try {
      return b.build();
    } catch (IOException | RuntimeException e) {
      throw new Exit.CliException(
          Exit.NOT_FOUND, "cannot open the Kiln store at " + p + ": " + what(e), e);
    }
  }

  private static String what(Exception e) {
    if (e instanceof java.nio.file.FileAlreadyExistsException
        || e instanceof java.nio.file.NotDirectoryException) {
      return "a file that is not a directory is in the way (" + e.getMessage() + ")";
    }
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied (" + e.getMessage() + ")";
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}
