package dev.kiln.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.InspectImageResponse;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import com.github.dockerjava.transport.DockerHttpClient;
import dev.kiln.Platform;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One Docker engine, reached through docker-java (httpclient5 transport) at {@code DOCKER_HOST} or
 * the default socket. Shared by every provisioner and store that talks to the same host (see {@link
 * #of}). Thread-safe.
 */
final class Daemon {
  static final String DEFAULT_HOST = "unix:///var/run/docker.sock";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<String, Daemon> BY_HOST = new ConcurrentHashMap<>();

  private final URI host;

  /**
   * How the host was chosen, for error messages: "DOCKER_HOST=…", "the default …", or "configured
   * in code".
   */
  private final String origin;

  private final DockerHttpClient http;
  private final DockerClient client;
  private volatile boolean reachable;

  private volatile Platform platform;

  private Daemon(URI host, String origin) {
    this.host = host;
    this.origin = origin;
    DockerClientConfig config =
        DefaultDockerClientConfig.createDefaultConfigBuilder()
            .withDockerHost(host.toString())
            .build();
    this.http =
        new ApacheDockerHttpClient.Builder()
            .dockerHost(config.getDockerHost())
            .sslConfig(config.getSSLConfig())
            .maxConnections(64)
            .connectionTimeout(Duration.ofSeconds(10))
            .build();
    this.client = DockerClientImpl.getInstance(config, http);
  }

  /** The daemon at {@code $DOCKER_HOST}, or the default socket when it is not set. */
  static Daemon fromEnvironment() {
    String env = System.getenv("DOCKER_HOST");
    if (env == null || env.isBlank()) {
      return of(URI.create(DEFAULT_HOST), "DOCKER_HOST is not set; the default is " + DEFAULT_HOST);
    }
    URI uri;
    try {
      uri = URI.create(env.trim());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "DOCKER_HOST='" + env + "' is not a URI such as unix:///var/run/docker.sock", e);
    }
    return of(uri, "from DOCKER_HOST=" + env);
  }

  /** The daemon at a host given in code. */
  static Daemon at(URI host) {
    return of(host, "configured in code");
  }

  private static Daemon of(URI host, String origin) {
    return BY_HOST.computeIfAbsent(host + " " + origin, k -> new Daemon(host, origin));
  }

  URI host() {
    return host;
  }

  DockerClient client() {
    return client;
  }

  /**
   * Checks once that the daemon answers, so that a missing daemon is one clear error naming
   * DOCKER_HOST rather than a transport exception from the middle of a step.
   */
  void checkReachable() throws DaemonUnavailableException {
    if (reachable) {
      return;
    }
    try {
      client.pingCmd().exec();
      reachable = true;
    } catch (RuntimeException e) {
      throw unavailable(e);
    }
  }

  /** The platform the daemon runs containers of natively ({@code docker info}'s OS and arch). */
  Platform platform() {
    Platform p = platform;
    if (p == null) {
      com.github.dockerjava.api.model.Info info = client.infoCmd().exec();
      String os = info.getOsType() == null ? "linux" : info.getOsType();
      String arch = info.getArchitecture() == null ? "x86_64" : info.getArchitecture();
      p = platform = Platform.parse(os + "/" + arch);
    }
    return p;
  }

  /** Whether the daemon runs on this machine (a unix socket), so its binfmt_misc is ours. */
  boolean isLocal() {
    return "unix".equals(host.getScheme());
  }

  /** The error for a daemon that cannot be reached. */
  DaemonUnavailableException unavailable(Throwable cause) {
    Throwable root = cause;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String why = root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
    return new DaemonUnavailableException(
        "cannot reach the Docker daemon at "
            + host
            + " ("
            + origin
            + "): "
            + why
            + ". Start dockerd, or set DOCKER_HOST to the socket of a running daemon (e.g. unix:///var/run/docker.sock)",
        cause);
  }

  /**
   * Whether a failure looks like the daemon being unreachable rather than an error it answered
   * with.
   */
  static boolean isConnectionFailure(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof java.net.ConnectException
          || c instanceof java.nio.file.NoSuchFileException
          || c instanceof java.net.UnknownHostException
          || c instanceof java.net.NoRouteToHostException
          || (c instanceof IOException
              && String.valueOf(c.getMessage()).contains("No such file or directory"))
          || (c instanceof IOException
              && String.valueOf(c.getMessage()).contains("Connection refused"))) {
        return true;
      }
      if (c.getCause() == c) {
        break;
      }
    }
    return false;
  }

  /** The image with this reference or id, if the daemon has it. */
  Optional<InspectImageResponse> image(String ref) {
    try {
      return Optional.of(client.inspectImageCmd(ref).exec());
    } catch (NotFoundException e) {
      return Optional.empty();
    }
  }

  /**
   * Streams a docker-archive into {@code POST /images/load} and reads the daemon's answer, which
   * reports errors in its body with status 200.
   *
   * @throws IOException with the daemon's message when the load failed
   */
  void load(InputStream archive) throws IOException {
    DockerHttpClient.Request req =
        DockerHttpClient.Request.builder()
            .method(DockerHttpClient.Request.Method.POST)
            .path(LOAD)
            .putHeader("Content-Type", "application/x-tar")
            .body(archive)
            .build();
    try (DockerHttpClient.Response res = http.execute(req)) {
      checkLoaded(res.getStatusCode(), readAll(res.getBody()));
    } catch (RuntimeException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw e;
    }
  }

  /**
   * Whether {@link #load(SocketLoad.Body)} can write an archive straight into the daemon's socket:
   * a unix socket, unless {@code -Dkiln.docker.directLoad=false}.
   */
  boolean loadsDirectly() {
    return isLocal() && !"false".equals(System.getProperty("kiln.docker.directLoad"));
  }

  /**
   * {@code POST /images/load} with the archive written by {@code archive} straight into the
   * daemon's unix socket ({@link SocketLoad}); only where {@link #loadsDirectly()}.
   *
   * @throws IOException with the daemon's message when the load failed, or the archive's own error
   *     when writing it failed (the daemon then discards the cut archive)
   */
  void load(SocketLoad.Body archive) throws IOException {
    SocketLoad.Answer a = SocketLoad.post(java.nio.file.Path.of(host.getPath()), LOAD, archive);
    checkLoaded(a.status(), a.body());
  }

  private static final String LOAD = "/images/load?quiet=1";

  /** The daemon answers a failed load with status 200 and an error in its body's JSON lines. */
  private static void checkLoaded(int status, String body) throws IOException {
    if (status / 100 != 2) {
      throw new IOException("the daemon refused the image (HTTP " + status + "): " + message(body));
    }
    for (String line : body.split("\n")) {
      if (line.isBlank()) {
        continue;
      }
      JsonNode n;
      try {
        n = JSON.readTree(line);
      } catch (IOException e) {
        throw new IOException("the daemon's answer to the load is not JSON: " + line.strip(), e);
      }
      if (n.has("error") || n.has("errorDetail")) {
        String msg = n.path("errorDetail").path("message").asText(n.path("error").asText());
        throw new IOException("the daemon could not load the image: " + msg);
      }
    }
  }

  /** Opens {@code GET /containers/ID/export}: the container's whole file system as a tar stream. */
  InputStream export(String containerId) throws IOException {
    return get("/containers/" + containerId + "/export");
  }

  /** Opens {@code GET /containers/ID/archive?path=P}: a tar of one path of the container. */
  InputStream archive(String containerId, String path) throws IOException {
    return get(
        "/containers/"
            + containerId
            + "/archive?path="
            + URLEncoder.encode(path, StandardCharsets.UTF_8));
  }

  private InputStream get(String path) throws IOException {
    DockerHttpClient.Request req =
        DockerHttpClient.Request.builder()
            .method(DockerHttpClient.Request.Method.GET)
            .path(path)
            .build();
    DockerHttpClient.Response res;
    try {
      res = http.execute(req);
    } catch (RuntimeException e) {
      throw new IOException("GET " + path + " failed: " + e.getMessage(), e);
    }
    if (res.getStatusCode() / 100 != 2) {
      String body = readAll(res.getBody());
      res.close();
      throw new IOException("GET " + path + ": HTTP " + res.getStatusCode() + ": " + message(body));
    }
    InputStream body = res.getBody();
    return new java.io.FilterInputStream(body) {
      @Override
      public void close() throws IOException {
        try {
          super.close();
        } finally {
          res.close();
        }
      }
    };
  }

  private static String readAll(InputStream in) throws IOException {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      StringBuilder sb = new StringBuilder();
      char[] buf = new char[8192];
      int n;
      while ((n = r.read(buf)) > 0) {
        sb.append(buf, 0, n);
      }
      return sb.toString();
    }
  }

  private static String message(String body) {
    try {
      JsonNode n = JSON.readTree(body);
      if (n != null && n.has("message")) {
        return n.get("message").asText();
      }
    } catch (IOException e) {
      // not JSON
    }
    return body.strip();
  }

  /** The diffIDs of an image's layers as the daemon lists them. */
  static List<String> diffIds(InspectImageResponse image) {
    return image.getRootFS() == null || image.getRootFS().getLayers() == null
        ? List.of()
        : image.getRootFS().getLayers();
  }

  /** The Docker engine could not be reached. */
  static final class DaemonUnavailableException extends Exception {
    private static final long serialVersionUID = 1L;

    DaemonUnavailableException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
