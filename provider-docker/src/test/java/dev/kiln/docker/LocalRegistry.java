package dev.kiln.docker;

import dev.kiln.testing.Tools;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Debian's {@code docker-registry} (distribution 2.8) serving on a free 127.0.0.1 port with storage
 * in a directory of the test's own, optionally with htpasswd (Basic) authentication. Stopped by
 * {@link #close()}.
 */
public final class LocalRegistry implements AutoCloseable {
  private final Process process;
  private final int port;
  private final Path log;

  private LocalRegistry(Process process, int port, Path log) {
    this.process = process;
    this.port = port;
    this.log = log;
  }

  public static LocalRegistry start(Path dir) throws Exception {
    return start(dir, null, null);
  }

  /** A registry with manifest deletes enabled or, as distribution's default, refused (405). */
  static LocalRegistry start(Path dir, boolean deletes) throws Exception {
    return start(dir, null, null, deletes);
  }

  /**
   * A registry that requires {@code user}/{@code password} (Basic, via an htpasswd file made with
   * htpasswd -B).
   */
  static LocalRegistry start(Path dir, String user, String password) throws Exception {
    return start(dir, user, password, true);
  }

  private static LocalRegistry start(Path dir, String user, String password, boolean deletes)
      throws Exception {
    String binary = Tools.require("docker-registry", "docker-registry");
    Files.createDirectories(dir);
    int port = freePort();
    StringBuilder yml =
        new StringBuilder()
            .append("version: 0.1\n")
            .append("log:\n  level: warn\n  accesslog:\n    disabled: true\n")
            .append("storage:\n  filesystem:\n    rootdirectory: ")
            .append(dir.resolve("data"))
            .append('\n')
            .append("  delete:\n    enabled: " + deletes + "\n")
            .append("http:\n  addr: 127.0.0.1:")
            .append(port)
            .append('\n');
    if (user != null) {
      String htpasswd = Tools.require("htpasswd", "apache2-utils");
      String line = Tools.run(htpasswd, "-nbB", user, password).ok().output().strip();
      Path file = dir.resolve("htpasswd");
      Files.writeString(file, line + "\n");
      yml.append("auth:\n  htpasswd:\n    realm: kiln-test\n    path: ").append(file).append('\n');
    }
    Path config = dir.resolve("config.yml");
    Files.writeString(config, yml.toString());
    Path log = dir.resolve("registry.log");
    Process p =
        new ProcessBuilder(binary, "serve", config.toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    LocalRegistry r = new LocalRegistry(p, port, log);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      try {
        HttpURLConnection c =
            (HttpURLConnection)
                URI.create("http://127.0.0.1:" + port + "/v2/").toURL().openConnection();
        c.setConnectTimeout(500);
        int code = c.getResponseCode();
        c.disconnect();
        if (code == 200 || code == 401) {
          return r;
        }
      } catch (IOException e) {
        // not up yet
      }
      if (!p.isAlive() || System.nanoTime() > deadline) {
        r.close();
        throw new IllegalStateException("docker-registry did not start: " + Files.readString(log));
      }
      Thread.sleep(100);
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  int port() {
    return port;
  }

  /** {@code 127.0.0.1:PORT}. */
  public String host() {
    return "127.0.0.1:" + port;
  }

  String log() throws IOException {
    return Files.readString(log);
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
