package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The direct load's HTTP over a unix socket, against a server in this JVM that records what it
 * received: the body arrives whole and in order, a body that fails is never completed, and the
 * daemon's answers (errors in a 200, an early refusal) become clear errors.
 */
class SocketLoadTest {
  private Path dir;
  private Path socket;
  private ServerSocketChannel server;

  @BeforeEach
  void setUp() throws IOException {
    dir = Files.createTempDirectory(Path.of("/tmp"), "kiln-socketload");
    socket = dir.resolve("d.sock");
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
  }

  @AfterEach
  void tearDown() throws IOException {
    server.close();
    Files.deleteIfExists(socket);
    Files.deleteIfExists(dir);
  }

  /**
   * What the server got: the request's head, the de-chunked body, and whether it ended properly.
   */
  record Received(String head, byte[] body, boolean complete) {}

  /**
   * Serves one connection: reads the request (until its last chunk or the client closes), then
   * writes {@code answer} given what it received, and closes.
   */
  private CompletableFuture<Received> serve(Function<Received, String> answer) {
    return CompletableFuture.supplyAsync(
        () -> {
          try (SocketChannel c = server.accept()) {
            ByteArrayOutputStream raw = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(1 << 16);
            Received r = null;
            while (r == null || !r.complete()) {
              int n = c.read(buf);
              if (n < 0) {
                break;
              }
              raw.write(buf.array(), 0, buf.position());
              buf.clear();
              r = decode(raw.toByteArray());
            }
            r = decode(raw.toByteArray());
            String a = answer.apply(r);
            if (a != null) {
              c.write(ByteBuffer.wrap(a.getBytes(StandardCharsets.UTF_8)));
            }
            return r;
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
  }

  /** Decodes a chunked request as far as it goes. */
  private static Received decode(byte[] raw) {
    String s = new String(raw, StandardCharsets.ISO_8859_1);
    int headEnd = s.indexOf("\r\n\r\n");
    if (headEnd < 0) {
      return new Received(s, new byte[0], false);
    }
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    int pos = headEnd + 4;
    while (true) {
      int eol = s.indexOf("\r\n", pos);
      if (eol < 0) {
        return new Received(s.substring(0, headEnd), body.toByteArray(), false);
      }
      int n = Integer.parseInt(s.substring(pos, eol), 16);
      if (n == 0) {
        return new Received(
            s.substring(0, headEnd), body.toByteArray(), s.startsWith("\r\n", eol + 2));
      }
      if (raw.length < eol + 2 + n + 2) {
        body.write(raw, eol + 2, Math.max(0, Math.min(n, raw.length - eol - 2)));
        return new Received(s.substring(0, headEnd), body.toByteArray(), false);
      }
      body.write(raw, eol + 2, n);
      pos = eol + 2 + n + 2;
    }
  }

  private static byte[] random(int n) {
    byte[] b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  private static final String OK =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
          + "2a\r\n{\"stream\":\"Loaded image ID: sha256:abc\\n\"}\r\n0\r\n\r\n";

  @Test
  void theBodyArrivesWholeInChunksAndTheAnswerIsRead() throws Exception {
    byte[] archive = random(3 * SocketLoad.CHUNK + 12345);
    CompletableFuture<Received> got = serve(r -> OK);
    SocketLoad.Answer a =
        SocketLoad.post(
            socket,
            "/images/load?quiet=1",
            out -> {
              // uneven writes, across chunk boundaries
              out.write(archive, 0, 7);
              out.write(archive, 7, SocketLoad.CHUNK);
              out.write(archive[SocketLoad.CHUNK + 7]);
              out.write(archive, SocketLoad.CHUNK + 8, archive.length - SocketLoad.CHUNK - 8);
              out.close(); // ends nothing: the body is completed by post()
            });
    Received r = got.get(30, TimeUnit.SECONDS);
    assertThat(r.complete()).isTrue();
    assertThat(r.body()).isEqualTo(archive);
    assertThat(r.head())
        .startsWith("POST /images/load?quiet=1 HTTP/1.1\r\n")
        .contains("Transfer-Encoding: chunked")
        .contains("Content-Type: application/x-tar");
    assertThat(a.status()).isEqualTo(200);
    assertThat(a.body()).isEqualTo("{\"stream\":\"Loaded image ID: sha256:abc\\n\"}");
  }

  @Test
  void aBodyThatFailsIsNeverCompletedAndItsErrorIsThrown() throws Exception {
    byte[] archive = random(SocketLoad.CHUNK + 100);
    CompletableFuture<Received> got = serve(r -> null);
    assertThatThrownBy(
            () ->
                SocketLoad.post(
                    socket,
                    "/images/load",
                    out -> {
                      out.write(archive);
                      throw new IOException("blob sha256:1234 is corrupt");
                    }))
        .isInstanceOf(IOException.class)
        .hasMessage("blob sha256:1234 is corrupt");
    Received r = got.get(30, TimeUnit.SECONDS);
    // the daemon saw a cut body: no last chunk, and never the bytes after the failure
    assertThat(r.complete()).isFalse();
    assertThat(r.body().length).isLessThanOrEqualTo(archive.length);
  }

  @Test
  void aDaemonThatAnswersEarlyHasItsAnswerReported() throws Exception {
    CompletableFuture<Void> refusing =
        CompletableFuture.runAsync(
            () -> {
              try (SocketChannel c = server.accept()) {
                c.read(ByteBuffer.allocate(1024)); // the head, then refuse without reading on
                c.write(
                    ByteBuffer.wrap(
                        ("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 25\r\n\r\n"
                                + "{\"message\":\"disk full\"}\r\n")
                            .getBytes(StandardCharsets.UTF_8)));
                c.shutdownOutput();
                Thread.sleep(200);
              } catch (IOException | InterruptedException e) {
                throw new RuntimeException(e);
              }
            });
    byte[] big = random(SocketLoad.CHUNK);
    assertThatThrownBy(
            () ->
                SocketLoad.post(
                    socket,
                    "/images/load",
                    out -> {
                      for (int i = 0; i < 256; i++) { // far more than the socket buffers hold
                        out.write(big);
                      }
                    }))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("HTTP 500")
        .hasMessageContaining("disk full");
    refusing.get(30, TimeUnit.SECONDS);
  }

  @Test
  void anErrorInTheDaemonsAnswerFailsTheLoad() throws Exception {
    Daemon d = Daemon.at(URI.create("unix://" + socket));
    assertThat(d.loadsDirectly()).isTrue();
    CompletableFuture<Received> got =
        serve(
            r ->
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
                    + "{\"errorDetail\":{\"message\":\"layer does not match its diffID\"},"
                    + "\"error\":\"layer does not match\"}\n");
    assertThatThrownBy(() -> d.load(out -> out.write(random(1000))))
        .isInstanceOf(IOException.class)
        .hasMessage("the daemon could not load the image: layer does not match its diffID");
    assertThat(got.get(30, TimeUnit.SECONDS).complete()).isTrue();
  }

  /** A daemon that keeps the connection open after its answer is not waited for. */
  @Test
  @org.junit.jupiter.api.Timeout(value = 60, unit = TimeUnit.SECONDS)
  void anAnswerIsReadToItsEndNotToTheEndOfTheConnection() throws Exception {
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    CompletableFuture<Void> lingering =
        CompletableFuture.runAsync(
            () -> {
              try (SocketChannel c = server.accept()) {
                ByteBuffer buf = ByteBuffer.allocate(1 << 16);
                ByteArrayOutputStream raw = new ByteArrayOutputStream();
                while (!decode(raw.toByteArray()).complete() && c.read(buf) >= 0) {
                  raw.write(buf.array(), 0, buf.position());
                  buf.clear();
                }
                c.write(ByteBuffer.wrap(OK.getBytes(StandardCharsets.UTF_8)));
                done.await(); // the connection stays open until the client has its answer
              } catch (IOException | InterruptedException e) {
                throw new RuntimeException(e);
              }
            });
    try {
      SocketLoad.Answer a = SocketLoad.post(socket, "/images/load", out -> out.write(random(10)));
      assertThat(a.status()).isEqualTo(200);
      assertThat(a.body()).contains("Loaded image ID");
    } finally {
      done.countDown();
    }
    lingering.get(30, TimeUnit.SECONDS);
    assertThat(
            SocketLoad.parseIfComplete(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel".getBytes(StandardCharsets.UTF_8)))
        .isNull();
    assertThat(
            SocketLoad.parseIfComplete(
                "HTTP/1.1 200 OK\r\n\r\nno framing".getBytes(StandardCharsets.UTF_8)))
        .isNull();
  }

  @Test
  void aMissingSocketIsAConnectionFailure() {
    Path none = dir.resolve("none.sock");
    assertThatThrownBy(() -> SocketLoad.post(none, "/images/load", out -> {}))
        .isInstanceOf(IOException.class)
        .satisfies(e -> assertThat(Daemon.isConnectionFailure(e)).isTrue());
  }

  @Test
  void answersAreParsedWhateverTheirFraming() throws IOException {
    assertThat(
            SocketLoad.parse(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello-and-more"
                    .getBytes(StandardCharsets.UTF_8)))
        .isEqualTo(new SocketLoad.Answer(200, "hello"));
    assertThat(
            SocketLoad.parse(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                    .getBytes(StandardCharsets.UTF_8)))
        .isEqualTo(new SocketLoad.Answer(200, "abcde"));
    assertThat(
            SocketLoad.parse("HTTP/1.0 404 Not Found\r\n\r\nno".getBytes(StandardCharsets.UTF_8)))
        .isEqualTo(new SocketLoad.Answer(404, "no"));
    assertThatThrownBy(() -> SocketLoad.parse("garbage".getBytes(StandardCharsets.UTF_8)))
        .hasMessageContaining("not HTTP");
    assertThatThrownBy(
            () ->
                SocketLoad.parse(
                    "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"
                        .getBytes(StandardCharsets.UTF_8)))
        .hasMessageContaining("ends after 5 of its 50 bytes");
    assertThatThrownBy(
            () ->
                SocketLoad.parse(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nabc"
                        .getBytes(StandardCharsets.UTF_8)))
        .hasMessageContaining("ends inside a chunk");
  }
}
