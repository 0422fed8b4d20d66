package dev.kiln.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the credentials Docker would use for a registry in {@code $DOCKER_CONFIG/config.json}
 * (default {@code ~/.docker/config.json}): a credential helper named in {@code credHelpers} for the
 * registry, else the {@code credsStore} helper, else the base64 {@code user:password} in {@code
 * auths}. A helper is the program {@code docker-credential-NAME}, asked with {@code get}.
 * Thread-safe (stateless).
 */
final class RegistryCredentials {
  private static final Logger log = LoggerFactory.getLogger(RegistryCredentials.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String DOCKER_HUB_KEY = "https://index.docker.io/v1/";

  /** A user name and password (or token) for Basic auth and token requests. */
  record Credentials(String user, String secret, String source) {
    @Override
    public String toString() {
      return "Credentials[user=" + user + ", from " + source + "]";
    }

    String basic() {
      return "Basic "
          + Base64.getEncoder()
              .encodeToString((user + ":" + secret).getBytes(StandardCharsets.UTF_8));
    }
  }

  private RegistryCredentials() {}

  static Path configFile() {
    String dir = System.getenv("DOCKER_CONFIG");
    if (dir != null && !dir.isBlank()) {
      return Path.of(dir, "config.json");
    }
    return Path.of(System.getProperty("user.home"), ".docker", "config.json");
  }

  /**
   * The credentials for {@code registry} (host[:port], {@code docker.io} for Docker Hub), if
   * configured.
   */
  static Optional<Credentials> find(String registry) {
    return find(registry, configFile());
  }

  static Optional<Credentials> find(String registry, Path config) {
    return find(registry, config, null);
  }

  /**
   * As {@link #find(String)}, with helpers looked up in {@code helperDir} (tests) instead of on the
   * PATH.
   */
  static Optional<Credentials> find(String registry, Path config, Path helperDir) {
    if (!Files.isRegularFile(config)) {
      return Optional.empty();
    }
    JsonNode root;
    try {
      root = JSON.readTree(Files.readAllBytes(config));
    } catch (IOException e) {
      log.warn("cannot read {}: {}; pushing without its credentials", config, e.toString());
      return Optional.empty();
    }
    String server = registry.equals(ImageReference.DOCKER_HUB) ? DOCKER_HUB_KEY : registry;
    String helper = root.path("credHelpers").path(registry).asText("");
    if (helper.isEmpty() && registry.equals(ImageReference.DOCKER_HUB)) {
      helper = root.path("credHelpers").path(DOCKER_HUB_KEY).asText("");
    }
    if (helper.isEmpty()) {
      helper = root.path("credsStore").asText("");
    }
    if (!helper.isEmpty()) {
      Optional<Credentials> c = helper(helper, server, helperDir);
      if (c.isPresent()) {
        return c;
      }
    }
    JsonNode auths = root.path("auths");
    for (Map.Entry<String, JsonNode> e : auths.properties()) {
      if (!sameRegistry(e.getKey(), registry)) {
        continue;
      }
      JsonNode a = e.getValue();
      String auth = a.path("auth").asText("");
      if (!auth.isEmpty()) {
        String decoded =
            new String(Base64.getDecoder().decode(auth.trim()), StandardCharsets.UTF_8);
        int colon = decoded.indexOf(':');
        if (colon > 0) {
          return Optional.of(
              new Credentials(
                  decoded.substring(0, colon), decoded.substring(colon + 1), config + " auths"));
        }
      }
      if (a.hasNonNull("username") && a.hasNonNull("password")) {
        return Optional.of(
            new Credentials(
                a.get("username").asText(), a.get("password").asText(), config + " auths"));
      }
    }
    return Optional.empty();
  }

  /** Whether an {@code auths} key (host, URL, Docker Hub's v1 URL) names the registry. */
  static boolean sameRegistry(String key, String registry) {
    String k = key.replaceFirst("^[a-z]+://", "");
    int slash = k.indexOf('/');
    if (slash >= 0) {
      k = k.substring(0, slash);
    }
    if (registry.equals(ImageReference.DOCKER_HUB)) {
      return k.equals("index.docker.io")
          || k.equals("docker.io")
          || k.equals("registry-1.docker.io");
    }
    return k.equalsIgnoreCase(registry);
  }

  /** Runs {@code docker-credential-NAME get} with the server on stdin. */
  static Optional<Credentials> helper(String name, String server, Path dir) {
    String program =
        dir == null
            ? "docker-credential-" + name
            : dir.resolve("docker-credential-" + name).toString();
    try {
      Process p = new ProcessBuilder(List.of(program, "get")).redirectErrorStream(false).start();
      try (OutputStream in = p.getOutputStream()) {
        in.write(server.getBytes(StandardCharsets.UTF_8));
      }
      byte[] out = p.getInputStream().readAllBytes();
      String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        log.warn("{} get did not answer within 30 s", program);
        return Optional.empty();
      }
      if (p.exitValue() != 0) {
        // "credentials not found in native keychain" is the normal answer for a registry without
        // credentials
        log.debug(
            "{} get {}: exit {}: {} {}",
            program,
            server,
            p.exitValue(),
            new String(out, StandardCharsets.UTF_8).strip(),
            err.strip());
        return Optional.empty();
      }
      JsonNode n = JSON.readTree(out);
      String user = n.path("Username").asText("");
      String secret = n.path("Secret").asText("");
      if (user.isEmpty() || secret.isEmpty()) {
        return Optional.empty();
      }
      if (user.equals("<token>")) {
        log.warn(
            "{} holds an identity token for {}, which Kiln does not use yet; pushing anonymously",
            program,
            server);
        return Optional.empty();
      }
      return Optional.of(new Credentials(user, secret, program));
    } catch (IOException e) {
      log.warn("credential helper {} could not be run: {}", program, e.getMessage());
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }
}
