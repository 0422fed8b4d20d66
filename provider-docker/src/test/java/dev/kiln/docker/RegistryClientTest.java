package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.kiln.Digest;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The client against a small fake registry with a token service, as Docker Hub and GHCR work: every
 * registry call needs a Bearer token that the realm issues for the right scope to the right Basic
 * credentials.
 */
class RegistryClientTest {
  private HttpServer server;
  private String base;
  private final Map<String, byte[]> blobs = new ConcurrentHashMap<>();
  private final List<String> tokenRequests = new CopyOnWriteArrayList<>();
  private final AtomicInteger unavailable = new AtomicInteger();

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    base = "http://127.0.0.1:" + server.getAddress().getPort();
    server.createContext(
        "/token",
        ex -> {
          String q = ex.getRequestURI().getRawQuery();
          tokenRequests.add(q);
          String auth = ex.getRequestHeaders().getFirst("Authorization");
          if (!("Basic " + java.util.Base64.getEncoder().encodeToString("u:p".getBytes()))
              .equals(auth)) {
            send(ex, 401, "{\"details\":\"bad credentials\"}", Map.of());
            return;
          }
          String scope =
              java.net.URLDecoder.decode(
                  q.replaceAll(".*scope=([^&]*).*", "$1"), StandardCharsets.UTF_8);
          send(ex, 200, "{\"token\":\"tok:" + scope + "\"}", Map.of());
        });
    server.createContext(
        "/v2/",
        ex -> {
          if (unavailable.getAndDecrement() > 0) {
            ex.getRequestBody().readAllBytes();
            send(ex, 503, "", Map.of());
            return;
          }
          String path = ex.getRequestURI().getPath();
          String repo = "team/app";
          String auth = ex.getRequestHeaders().getFirst("Authorization");
          boolean push =
              !ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD");
          String need = "repository:" + repo + ":" + (push ? "pull,push" : "pull");
          if (auth == null
              || !auth.startsWith("Bearer tok:repository:" + repo + ":")
              || (push && !auth.contains("push"))) {
            send(
                ex,
                401,
                "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}",
                Map.of(
                    "WWW-Authenticate",
                    "Bearer realm=\"" + base + "/token\",service=\"fake\",scope=\"" + need + "\""));
            return;
          }
          if (path.startsWith("/v2/" + repo + "/blobs/uploads/")
              && ex.getRequestMethod().equals("POST")) {
            ex.getRequestBody().readAllBytes();
            send(ex, 202, "", Map.of("Location", "/v2/" + repo + "/blobs/uploads/abc?_state=x"));
          } else if (path.startsWith("/v2/" + repo + "/blobs/uploads/abc")
              && ex.getRequestMethod().equals("PUT")) {
            byte[] body = ex.getRequestBody().readAllBytes();
            String digest =
                java.net.URLDecoder.decode(
                    ex.getRequestURI().getRawQuery().replaceAll(".*digest=([^&]*).*", "$1"),
                    StandardCharsets.UTF_8);
            assertThat(ex.getRequestURI().getRawQuery()).startsWith("_state=x&digest=");
            blobs.put(digest, body);
            send(ex, 201, "", Map.of("Docker-Content-Digest", digest));
          } else if (path.startsWith("/v2/" + repo + "/blobs/")) {
            byte[] b = blobs.get(path.substring(path.lastIndexOf('/') + 1));
            if (b == null) {
              send(ex, 404, "", Map.of());
            } else if (ex.getRequestMethod().equals("HEAD")) {
              ex.sendResponseHeaders(200, -1);
              ex.close();
            } else {
              ex.sendResponseHeaders(200, b.length);
              ex.getResponseBody().write(b);
              ex.close();
            }
          } else {
            send(ex, 404, "", Map.of());
          }
        });
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  private static void send(HttpExchange ex, int status, String body, Map<String, String> headers)
      throws IOException {
    headers.forEach((k, v) -> ex.getResponseHeaders().add(k, v));
    byte[] b =
        ex.getRequestMethod().equals("HEAD") ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
    ex.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
    if (b.length > 0) {
      ex.getResponseBody().write(b);
    }
    ex.close();
  }

  private RegistryClient client(String user, String pass) {
    var creds = user == null ? null : new RegistryCredentials.Credentials(user, pass, "test");
    return new RegistryClient(
        "fake", URI.create(base + "/"), creds, 4, Duration.ofMillis(5), 1 << 20);
  }

  @Test
  void bearerTokensAreFetchedPerScopeWithBasicCredentials() throws Exception {
    RegistryClient c = client("u", "p");
    byte[] blob = "layer bytes".getBytes(StandardCharsets.UTF_8);
    Digest d = Digest.of(blob);
    assertThat(c.hasBlob("team/app", d, RegistryClient.pushScope("team/app"))).isFalse();
    long sent =
        c.upload(
            "team/app",
            d,
            blob.length,
            () -> new java.io.ByteArrayInputStream(blob),
            null,
            n -> {});
    assertThat(sent).isEqualTo(blob.length);
    assertThat(c.hasBlob("team/app", d, RegistryClient.pullScope("team/app"))).isTrue();
    try (var in = c.openBlob("team/app", d)) {
      assertThat(in.readAllBytes()).isEqualTo(blob);
    }
    // one token for push (reused by HEAD, POST and PUT) and one for pull
    assertThat(tokenRequests).hasSize(2);
    assertThat(tokenRequests.get(0))
        .contains("service=fake")
        .contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush");
  }

  @Test
  void wrongCredentialsAtTheTokenServiceAreAClearError() {
    RegistryClient c = client("u", "wrong");
    assertThatThrownBy(
            () ->
                c.hasBlob("team/app", Digest.of(new byte[0]), RegistryClient.pullScope("team/app")))
        .isInstanceOf(RegistryException.class)
        .hasMessageContaining("rejected the credentials of user 'u'");
  }

  @Test
  void unavailableRegistryIsRetried() throws Exception {
    unavailable.set(2);
    RegistryClient c = client("u", "p");
    assertThat(c.hasBlob("team/app", Digest.of(new byte[0]), RegistryClient.pullScope("team/app")))
        .isFalse();
    assertThat(unavailable.get()).isLessThan(0);
  }

  @Test
  void challengeParametersAreParsed() {
    assertThat(
            RegistryClient.challengeParams(
                " realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/debian:pull\""))
        .containsEntry("realm", "https://auth.docker.io/token")
        .containsEntry("service", "registry.docker.io")
        .containsEntry("scope", "repository:library/debian:pull");
  }
}
