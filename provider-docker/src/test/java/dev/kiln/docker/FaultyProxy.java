package dev.kiln.docker;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A loopback HTTP proxy in front of a registry that answers 500 to chosen requests (the body is
 * read, nothing is forwarded) and passes everything else through, rewriting Location headers so
 * clients stay on the proxy. Records the requests it saw. Can hold chosen requests until several of
 * them are in flight at once (see {@link #holdUntil}), to show that a client sends them in
 * parallel.
 */
public final class FaultyProxy implements AutoCloseable {
  private static final Set<String> HOP =
      Set.of(
          "host",
          "content-length",
          "connection",
          "expect",
          "upgrade",
          "transfer-encoding",
          "keep-alive");

  /** A request as the proxy saw it. */
  public record Seen(String method, String path, long bodyBytes, boolean failed) {}

  private final HttpServer server;
  private final String upstream;
  private final HttpClient client =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .followRedirects(HttpClient.Redirect.NEVER)
          .build();
  private final Predicate<Seen> fail;
  private final AtomicInteger failures = new AtomicInteger();
  private final int maxFailures;
  private final List<Seen> seen = new CopyOnWriteArrayList<>();
  private volatile Predicate<Seen> hold = s -> false;
  private volatile CountDownLatch held = new CountDownLatch(0);
  private final AtomicInteger holding = new AtomicInteger();
  private final AtomicInteger mostHeld = new AtomicInteger();

  public FaultyProxy(String upstreamHost, Predicate<Seen> fail, int maxFailures)
      throws IOException {
    this.upstream = upstreamHost;
    this.fail = fail;
    this.maxFailures = maxFailures;
    this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", this::handle);
    server.setExecutor(Executors.newCachedThreadPool());
    server.start();
  }

  private volatile int failStatus = 500;
  private volatile String failCode = "UNKNOWN";

  /**
   * What a failed request is answered: {@code status} with the registry error {@code code} (500
   * {@code UNKNOWN} unless set).
   */
  public FaultyProxy failWith(int status, String code) {
    this.failStatus = status;
    this.failCode = code;
    return this;
  }

  public String host() {
    return "127.0.0.1:" + server.getAddress().getPort();
  }

  public int failures() {
    return failures.get();
  }

  public List<Seen> seen() {
    return List.copyOf(seen);
  }

  /**
   * Holds each request that {@code which} matches (after reading its body, before forwarding it)
   * until {@code count} of them have arrived, or for at most {@code patience}: a client that sends
   * them one at a time is slowed down, never blocked. {@link #mostInFlight()} tells how many were
   * in flight at once.
   */
  public void holdUntil(Predicate<Seen> which, int count, Duration patience) {
    this.held = new CountDownLatch(count);
    this.patience = patience;
    this.hold = which;
  }

  /** Lets the requests held by {@link #holdUntil} go on at once. */
  public void release() {
    CountDownLatch l = held;
    while (l.getCount() > 0) {
      l.countDown();
    }
  }

  /** The most requests matched by {@link #holdUntil} that were in flight at the same time. */
  public int mostInFlight() {
    return mostHeld.get();
  }

  private volatile Duration patience = Duration.ZERO;

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      byte[] body;
      try (InputStream in = ex.getRequestBody()) {
        body = in.readAllBytes();
      }
      String path =
          ex.getRequestURI().getRawPath()
              + (ex.getRequestURI().getRawQuery() != null
                  ? "?" + ex.getRequestURI().getRawQuery()
                  : "");
      Seen s = new Seen(ex.getRequestMethod(), path, body.length, false);
      if (failures.get() < maxFailures && fail.test(s)) {
        failures.incrementAndGet();
        seen.add(new Seen(s.method(), s.path(), s.bodyBytes(), true));
        byte[] err =
            ("{\"errors\":[{\"code\":\"" + failCode + "\",\"message\":\"injected failure\"}]}")
                .getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(failStatus, err.length);
        ex.getResponseBody().write(err);
        return;
      }
      seen.add(s);
      boolean matched = hold.test(s);
      if (matched) {
        mostHeld.accumulateAndGet(holding.incrementAndGet(), Math::max);
        held.countDown();
        try {
          held.await(patience.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      try {
        forward(ex, path, body);
      } finally {
        if (matched) {
          holding.decrementAndGet();
        }
      }
    }
  }

  private void forward(HttpExchange ex, String path, byte[] body) throws IOException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://" + upstream + path))
            .method(
                ex.getRequestMethod(),
                body.length == 0
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(body));
    for (Map.Entry<String, List<String>> h : ex.getRequestHeaders().entrySet()) {
      if (!HOP.contains(h.getKey().toLowerCase())) {
        for (String v : h.getValue()) {
          b.header(h.getKey(), v);
        }
      }
    }
    HttpResponse<byte[]> r;
    try {
      r = client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
    for (Map.Entry<String, List<String>> h : r.headers().map().entrySet()) {
      if (HOP.contains(h.getKey().toLowerCase()) || h.getKey().startsWith(":")) {
        continue;
      }
      for (String v : h.getValue()) {
        ex.getResponseHeaders()
            .add(
                h.getKey(),
                h.getKey().equalsIgnoreCase("Location") ? v.replace(upstream, host()) : v);
      }
    }
    boolean noBody =
        ex.getRequestMethod().equals("HEAD") || r.statusCode() == 204 || r.body().length == 0;
    ex.sendResponseHeaders(r.statusCode(), noBody ? -1 : r.body().length);
    if (!noBody) {
      try (OutputStream out = ex.getResponseBody()) {
        out.write(r.body());
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
