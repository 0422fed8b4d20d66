package dev.kiln.docker;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;

/**
 * {@code POST /images/load} over a daemon's unix socket, with the archive written straight into the
 * socket by the thread that produces it: no pipe, no second thread, and the body goes in chunks of
 * {@link #CHUNK} bytes (chunked transfer encoding, so its length need not be known first). The
 * daemon's Java client, by contrast, reads a request body from an {@code InputStream} and writes it
 * in 4 KiB pieces, which cost a 271 MB layer about as much again as the daemon's own import of it.
 *
 * <p>A body that fails on Kiln's side (a blob that does not read back, a kept tar that changed) is
 * never completed: the connection is closed without the chunked body's last chunk, so the daemon
 * reads a cut archive, which it discards, and the body's error is thrown. A daemon that stops
 * reading and answers early (an error) has its answer read and reported.
 */
final class SocketLoad {
  /** Bytes per chunk of the request body. */
  static final int CHUNK = 1 << 20;

  /** The largest answer read back; the daemon's answer to a quiet load is a few lines of JSON. */
  private static final int MAX_ANSWER = 16 << 20;

  /** What writes the request body; it may close the stream it is given, which ends nothing. */
  interface Body {
    void writeTo(OutputStream out) throws IOException;
  }

  /** The daemon's answer: its status and its body, de-chunked. */
  record Answer(int status, String body) {}

  private SocketLoad() {}

  /**
   * Sends {@code body} as {@code POST path} to the daemon at {@code socket} and returns its answer.
   *
   * @throws IOException the body's own error when it failed (the daemon then got a cut archive);
   *     the daemon's answer when it answered before the body was sent; else the socket's error
   */
  static Answer post(Path socket, String path, Body body) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      Chunked out = new Chunked(ch);
      out.raw(
          ("POST "
                  + path
                  + " HTTP/1.1\r\n"
                  + "Host: docker\r\n"
                  + "User-Agent: kiln\r\n"
                  + "Content-Type: application/x-tar\r\n"
                  + "Transfer-Encoding: chunked\r\n"
                  + "Connection: close\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      try {
        body.writeTo(out);
        out.finish();
      } catch (IOException | RuntimeException e) {
        if (out.socketError == null) {
          throw e; // Kiln's side failed: closing the channel now cuts the archive short
        }
        Answer early = answerAfterFailure(ch);
        if (early != null && early.status / 100 != 2) {
          IOException withAnswer =
              new IOException(
                  "the daemon stopped reading the image (HTTP "
                      + early.status
                      + "): "
                      + early.body.strip(),
                  e);
          throw withAnswer;
        }
        throw e;
      }
      return answer(ch);
    }
  }

  /** The answer of a daemon that stopped reading, if it gave one before closing. */
  private static Answer answerAfterFailure(SocketChannel ch) {
    try {
      return answer(ch);
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * Reads the answer up to its end, as its framing (chunks or {@code Content-Length}) says, or up
   * to the end of the connection when it has none, and parses it. The request asked the daemon to
   * close the connection after answering; one that keeps it open is not waited for.
   */
  static Answer answer(SocketChannel ch) throws IOException {
    ByteArrayOutputStream raw = new ByteArrayOutputStream();
    ByteBuffer buf = ByteBuffer.allocate(64 << 10);
    while (ch.read(buf) >= 0) {
      raw.write(buf.array(), 0, buf.position());
      buf.clear();
      if (raw.size() > MAX_ANSWER) {
        throw new IOException("the daemon's answer is longer than " + MAX_ANSWER + " bytes");
      }
      Answer whole = parseIfComplete(raw.toByteArray());
      if (whole != null) {
        return whole;
      }
    }
    return parse(raw.toByteArray());
  }

  /** The answer, when {@code raw} holds all of it by its framing; null when more is to come. */
  static Answer parseIfComplete(byte[] raw) {
    try {
      return parse(raw, true);
    } catch (IOException e) {
      return null; // incomplete, or wrong: read on, and let the end of the connection tell
    }
  }

  /** Parses an HTTP/1.1 response read to its end. */
  static Answer parse(byte[] raw) throws IOException {
    return parse(raw, false);
  }

  /**
   * Parses a response; when {@code framedOnly}, one without chunks or {@code Content-Length} (which
   * ends only with the connection) is not complete yet.
   */
  private static Answer parse(byte[] raw, boolean framedOnly) throws IOException {
    int headEnd = indexOf(raw, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 0);
    if (headEnd < 0) {
      throw new IOException(
          "the daemon's answer is not HTTP: "
              + new String(raw, 0, Math.min(raw.length, 200), StandardCharsets.UTF_8));
    }
    String[] head = new String(raw, 0, headEnd, StandardCharsets.ISO_8859_1).split("\r\n");
    String[] status = head[0].split(" ", 3);
    if (status.length < 2 || !status[0].startsWith("HTTP/")) {
      throw new IOException("the daemon's answer is not HTTP: " + head[0]);
    }
    int code;
    try {
      code = Integer.parseInt(status[1]);
    } catch (NumberFormatException e) {
      throw new IOException("the daemon's answer is not HTTP: " + head[0], e);
    }
    boolean chunked = false;
    long length = -1;
    for (int i = 1; i < head.length; i++) {
      int colon = head[i].indexOf(':');
      if (colon < 0) {
        continue;
      }
      String name = head[i].substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = head[i].substring(colon + 1).trim();
      if (name.equals("transfer-encoding")) {
        chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
      } else if (name.equals("content-length")) {
        try {
          length = Long.parseLong(value);
        } catch (NumberFormatException e) {
          throw new IOException("the daemon's answer has a bad Content-Length: " + value, e);
        }
      }
    }
    int start = headEnd + 4;
    byte[] body;
    if (chunked) {
      body = dechunk(raw, start);
    } else if (length >= 0) {
      if (raw.length - start < length) {
        throw new IOException(
            "the daemon's answer ends after "
                + (raw.length - start)
                + " of its "
                + length
                + " bytes");
      }
      body = java.util.Arrays.copyOfRange(raw, start, start + (int) length);
    } else if (framedOnly) {
      throw new IOException("the answer ends with the connection");
    } else {
      body = java.util.Arrays.copyOfRange(raw, start, raw.length);
    }
    return new Answer(code, new String(body, StandardCharsets.UTF_8));
  }

  private static byte[] dechunk(byte[] raw, int pos) throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    byte[] crlf = "\r\n".getBytes(StandardCharsets.US_ASCII);
    while (true) {
      int eol = indexOf(raw, crlf, pos);
      if (eol < 0) {
        throw new IOException("the daemon's answer ends inside a chunk header");
      }
      String size = new String(raw, pos, eol - pos, StandardCharsets.US_ASCII);
      int semi = size.indexOf(';');
      long n;
      try {
        n = Long.parseLong((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
      } catch (NumberFormatException e) {
        throw new IOException("the daemon's answer has a bad chunk size: " + size, e);
      }
      pos = eol + 2;
      if (n == 0) {
        return body.toByteArray();
      }
      if (n < 0 || raw.length - pos < n) {
        throw new IOException("the daemon's answer ends inside a chunk");
      }
      body.write(raw, pos, (int) n);
      pos += (int) n + 2;
    }
  }

  private static int indexOf(byte[] hay, byte[] needle, int from) {
    outer:
    for (int i = from; i <= hay.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  /**
   * The request body as chunks of up to {@link #CHUNK} bytes, each sent with one gathering write.
   * Remembers an error of the socket, to tell it from an error of the body's writer.
   */
  static final class Chunked extends OutputStream {
    private final SocketChannel ch;
    private final ByteBuffer data = ByteBuffer.allocateDirect(CHUNK);
    private final ByteBuffer[] parts = new ByteBuffer[3];
    private final ByteBuffer crlf =
        ByteBuffer.wrap("\r\n".getBytes(StandardCharsets.US_ASCII)).asReadOnlyBuffer();
    IOException socketError;
    private boolean finished;

    Chunked(SocketChannel ch) {
      this.ch = ch;
    }

    /** Writes bytes as they are, outside any chunk (the request's head). */
    void raw(byte[] b) throws IOException {
      send(new ByteBuffer[] {ByteBuffer.wrap(b)});
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      if (finished) {
        throw new IOException("the request body is already complete");
      }
      while (len > 0) {
        int n = Math.min(len, data.remaining());
        data.put(b, off, n);
        off += n;
        len -= n;
        if (!data.hasRemaining()) {
          sendChunk();
        }
      }
    }

    /** Nothing: chunks go when full, and the last with {@link #finish}. */
    @Override
    public void flush() {}

    /** Nothing either: only {@link #finish} completes the body. */
    @Override
    public void close() {}

    /** Sends what is buffered and the last, empty chunk: the body is complete. */
    void finish() throws IOException {
      if (finished) {
        return;
      }
      sendChunk();
      finished = true;
      raw("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    }

    private void sendChunk() throws IOException {
      data.flip();
      if (data.hasRemaining()) {
        parts[0] =
            ByteBuffer.wrap(
                (Integer.toHexString(data.remaining()) + "\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
        parts[1] = data;
        parts[2] = crlf.duplicate();
        send(parts);
      }
      data.clear();
    }

    private void send(ByteBuffer[] bufs) throws IOException {
      try {
        while (bufs[bufs.length - 1].hasRemaining()) {
          ch.write(bufs);
        }
      } catch (IOException e) {
        if (socketError == null) {
          socketError = e;
        }
        throw e;
      }
    }
  }
}
