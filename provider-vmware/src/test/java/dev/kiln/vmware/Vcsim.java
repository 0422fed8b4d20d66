package dev.kiln.vmware;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.vmware.auth.Credentials;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit extension that runs govmomi's vCenter simulator ({@code scripts/vcsim}) for a test class:
 * it builds the binary if needed (cached under {@code ~/.cache/kiln-fixtures}), starts it on a free
 * loopback port with HTTPS and a fresh self-signed certificate, and stops it after the class.
 *
 * <pre>{@code
 * @RegisterExtension static final Vcsim vcsim = new Vcsim();
 * }</pre>
 *
 * <p>The simulator's inventory is govmomi's VPX model: datacenter {@code DC0}, cluster {@code
 * DC0_C0}, datastore {@code LocalDS_0}, network {@code VM Network}. {@code
 * KILN_VCSIM=/path/to/binary} skips the build. Without Go or govmomi's sources the tests are
 * skipped, or fail under {@code CI=true}.
 */
final class Vcsim implements BeforeAllCallback, AfterAllCallback {
  static final String DATACENTER = "DC0";
  static final String CLUSTER = "DC0_C0";
  static final String DATASTORE = "LocalDS_0";
  static final String NETWORK = "VM Network";
  private static final String USER = "kiln";
  private static final String PASSWORD = "kiln-test-password";

  private Process process;
  private String host;
  private String thumbprint;

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    Path binary = binary();
    Path logFile =
        Path.of("target", "vcsim-" + context.getRequiredTestClass().getSimpleName() + ".log");
    Files.createDirectories(logFile.getParent());
    process =
        new ProcessBuilder(binary.toString(), "-username", USER, "-password", PASSWORD)
            .redirectError(logFile.toFile())
            .start();
    BufferedReader out =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    String line;
    try {
      line = CompletableFuture.supplyAsync(() -> readLine(out)).get(60, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      stop();
      throw new IllegalStateException(
          "vcsim printed nothing within 60 s; see " + logFile.toAbsolutePath(), e);
    }
    if (line == null) {
      stop();
      throw new IllegalStateException(
          "vcsim exited before it served; see " + logFile.toAbsolutePath());
    }
    JsonNode started = new ObjectMapper().readTree(line);
    host = started.path("host").asText();
    thumbprint = started.path("thumbprint").asText();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    stop();
  }

  /** {@code 127.0.0.1:PORT}. */
  String host() {
    return host;
  }

  /** The SHA-256 thumbprint of this run's certificate, {@code AB:CD:…}. */
  String thumbprint() {
    return thumbprint;
  }

  Credentials credentials() {
    return Credentials.of(USER, PASSWORD);
  }

  /** A template target in the VM folder of the simulator's datacenter. */
  VsphereTarget template(String name) {
    return VsphereTarget.template(host, DATACENTER, "vm", name)
        .datastore(DATASTORE)
        .pool(CLUSTER)
        .network(NETWORK)
        .thumbprint(thumbprint);
  }

  /** A content library item target. */
  VsphereTarget libraryItem(String library, String name) {
    return VsphereTarget.libraryItem(host, DATACENTER, library, name)
        .datastore(DATASTORE)
        .thumbprint(thumbprint);
  }

  private void stop() {
    if (process == null) {
      return;
    }
    try {
      process.getOutputStream().close(); // the simulator exits when its stdin closes
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      }
    } catch (IOException | InterruptedException e) {
      process.destroyForcibly();
    }
    process = null;
  }

  private static String readLine(BufferedReader r) {
    try {
      return r.readLine();
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * The simulator binary: {@code KILN_VCSIM}, or what {@code scripts/vcsim/build.sh} builds (or has
   * cached).
   */
  private static Path binary() throws IOException, InterruptedException {
    String given = System.getenv("KILN_VCSIM");
    if (given != null && !given.isEmpty()) {
      Path p = Path.of(given);
      if (!Files.isExecutable(p)) {
        fail("KILN_VCSIM=" + given + " is not an executable file");
      }
      return p;
    }
    Path script = Path.of(System.getProperty("kiln.vcsim.build", "../scripts/vcsim/build.sh"));
    if (!Files.isRegularFile(script)) {
      fail("vcsim build script not found at " + script.toAbsolutePath());
    }
    Process build = new ProcessBuilder("sh", script.toString()).redirectErrorStream(false).start();
    CompletableFuture<String> err =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return new String(build.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
              } catch (IOException e) {
                return e.toString();
              }
            });
    String out = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (!build.waitFor(10, TimeUnit.MINUTES)) {
      build.destroyForcibly();
      fail("building vcsim took more than 10 minutes");
    }
    String stderr = err.join();
    if (build.exitValue() == 2) {
      dev.kiln.testing.Tools.missing(stderr.strip()); // Go or govmomi's sources are not installed
    }
    if (build.exitValue() != 0) {
      fail("building vcsim failed (exit " + build.exitValue() + "):\n" + stderr);
    }
    String[] lines = out.split("\n");
    return Path.of(lines[lines.length - 1]);
  }
}
