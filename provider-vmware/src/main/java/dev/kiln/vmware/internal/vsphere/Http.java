package dev.kiln.vmware.internal.vsphere;

import dev.kiln.spi.ProgressInputStream;
import dev.kiln.vmware.auth.TlsTrust;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.CookieManager;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * One {@link HttpClient} with a TLS trust and a cookie jar, and the blocking calls the clients
 * make. Thread-safe.
 */
final class Http {
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);

  private final HttpClient client;

  Http(TlsTrust trust) {
    this.client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .sslContext(trust.sslContext())
            .cookieHandler(new CookieManager())
            .connectTimeout(CONNECT_TIMEOUT)
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
  }

  HttpResponse<byte[]> send(HttpRequest request) throws IOException {
    try {
      return client.send(request, HttpResponse.BodyHandlers.ofByteArray());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException(request.method() + " " + request.uri() + " interrupted");
    }
  }

  HttpResponse<InputStream> sendStream(HttpRequest request) throws IOException {
    try {
      return client.send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException(request.method() + " " + request.uri() + " interrupted");
    }
  }

  /**
   * Sends {@code length} bytes from {@code in} with {@code method} and returns the response. {@code
   * progress} hears the running total of bytes handed to the connection.
   */
  HttpResponse<byte[]> upload(
      String method,
      URI uri,
      Map<String, String> headers,
      InputStream in,
      long length,
      LongConsumer progress)
      throws IOException {
    AtomicLong sent = new AtomicLong();
    InputStream counting = new ProgressInputStream(in, sent, progress);
    HttpRequest.Builder b =
        HttpRequest.newBuilder(uri)
            .method(
                method,
                HttpRequest.BodyPublishers.fromPublisher(
                    HttpRequest.BodyPublishers.ofInputStream(() -> counting), length));
    headers.forEach(b::header);
    return send(b.build());
  }
}
