package dev.kiln.ec2;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small HTTP/1.1 server on 127.0.0.1 and a random port, on plain sockets so that a fault can drop
 * a connection exactly where a test wants: persistent connections, Content-Length and chunked
 * bodies, {@code Expect: 100-continue}. One thread per connection.
 */
final class LoopbackHttp implements AutoCloseable {
  /** One request as read from the wire; header names keep their case, values are as sent. */
  record Request(
      String method,
      String rawPath,
      String rawQuery,
      List<Map.Entry<String, String>> headers,
      byte[] body) {
    String header(String name) {
      for (Map.Entry<String, String> h : headers) {
        if (h.getKey().equalsIgnoreCase(name)) {
          return h.getValue();
        }
      }
      return null;
    }

    List<String> headerValues(String name) {
      List<String> out = new ArrayList<>();
      for (Map.Entry<String, String> h : headers) {
        if (h.getKey().equalsIgnoreCase(name)) {
          out.add(h.getValue());
        }
      }
      return out;
    }
  }

  /** A response; {@link #drop()} closes the connection (with a TCP reset) instead of answering. */
  record Response(int status, Map<String, String> headers, byte[] body, boolean dropConnection) {
    static Response of(int status, String contentType, byte[] body) {
      Map<String, String> h = new LinkedHashMap<>();
      if (contentType != null) {
        h.put("Content-Type", contentType);
      }
      return new Response(status, h, body, false);
    }

    static Response drop() {
      return new Response(0, Map.of(), new byte[0], true);
    }

    Response withHeader(String name, String value) {
      Map<String, String> h = new LinkedHashMap<>(headers);
      h.put(name, value);
      return new Response(status, h, body, dropConnection);
    }
  }

  interface Handler {
    Response handle(Request request);
  }

  private final ServerSocket server;
  private final Handler handler;
  private final ExecutorService connections;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final Thread acceptor;
  private final AtomicInteger connectionCount = new AtomicInteger();
  private volatile boolean closed;

  LoopbackHttp(Handler handler) throws IOException {
    this.handler = handler;
    this.server = new ServerSocket(0, 256, InetAddress.getLoopbackAddress());
    AtomicInteger n = new AtomicInteger();
    this.connections =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "loopback-aws-conn-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    this.acceptor = new Thread(this::acceptLoop, "loopback-aws-accept");
    this.acceptor.setDaemon(true);
    this.acceptor.start();
  }

  int port() {
    return server.getLocalPort();
  }

  /** Connections accepted so far. */
  int connectionsAccepted() {
    return connectionCount.get();
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket s = server.accept();
        connectionCount.incrementAndGet();
        open.add(s);
        connections.execute(() -> serve(s));
      } catch (IOException e) {
        if (!closed) {
          System.err.println("loopback-aws: accept failed: " + e);
        }
      }
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      socket.setTcpNoDelay(true);
      InputStream in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
      OutputStream out = new BufferedOutputStream(socket.getOutputStream(), 64 * 1024);
      while (!closed) {
        Request req = read(in, out);
        if (req == null) {
          return;
        }
        Response resp;
        try {
          resp = handler.handle(req);
        } catch (RuntimeException e) {
          e.printStackTrace();
          resp =
              Response.of(
                  500, "text/plain", ("loopback-aws bug: " + e).getBytes(StandardCharsets.UTF_8));
        }
        if (resp.dropConnection()) {
          socket.setSoLinger(true, 0);
          return;
        }
        write(out, resp);
        String connection = req.header("Connection");
        if (connection != null && connection.equalsIgnoreCase("close")) {
          return;
        }
      }
    } catch (SocketException | EOFException e) {
      // the client went away
    } catch (IOException e) {
      if (!closed) {
        System.err.println("loopback-aws: connection failed: " + e);
      }
    } finally {
      open.remove(socket);
    }
  }

  private static Request read(InputStream in, OutputStream out) throws IOException {
    String requestLine = readLine(in);
    if (requestLine == null) {
      return null;
    }
    if (requestLine.isEmpty()) {
      requestLine = readLine(in);
      if (requestLine == null) {
        return null;
      }
    }
    String[] parts = requestLine.split(" ");
    if (parts.length != 3) {
      throw new IOException("bad request line: " + requestLine);
    }
    String target = parts[1];
    int q = target.indexOf('?');
    String rawPath = q < 0 ? target : target.substring(0, q);
    String rawQuery = q < 0 ? null : target.substring(q + 1);
    List<Map.Entry<String, String>> headers = new ArrayList<>();
    for (String line = readLine(in); line != null && !line.isEmpty(); line = readLine(in)) {
      int colon = line.indexOf(':');
      if (colon <= 0) {
        throw new IOException("bad header line: " + line);
      }
      headers.add(
          new AbstractMap.SimpleImmutableEntry<>(
              line.substring(0, colon), line.substring(colon + 1).trim()));
    }
    Request head = new Request(parts[0], rawPath, rawQuery, headers, new byte[0]);
    String expect = head.header("Expect");
    if (expect != null && expect.toLowerCase(Locale.ROOT).contains("100-continue")) {
      out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
    }
    byte[] body;
    String te = head.header("Transfer-Encoding");
    if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      while (true) {
        String size = readLine(in);
        if (size == null) {
          throw new EOFException();
        }
        int semi = size.indexOf(';');
        int n = Integer.parseInt((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
        if (n == 0) {
          for (String l = readLine(in); l != null && !l.isEmpty(); l = readLine(in)) {
            // trailers are ignored
          }
          break;
        }
        b.write(readExactly(in, n));
        readLine(in);
      }
      body = b.toByteArray();
    } else {
      String cl = head.header("Content-Length");
      body = cl == null ? new byte[0] : readExactly(in, Integer.parseInt(cl.trim()));
    }
    return new Request(parts[0], rawPath, rawQuery, headers, body);
  }

  private static byte[] readExactly(InputStream in, int n) throws IOException {
    byte[] b = in.readNBytes(n);
    if (b.length != n) {
      throw new EOFException("body ended after " + b.length + " of " + n + " bytes");
    }
    return b;
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder s = new StringBuilder();
    while (true) {
      int c = in.read();
      if (c < 0) {
        return s.length() == 0 ? null : s.toString();
      }
      if (c == '\n') {
        int len = s.length();
        if (len > 0 && s.charAt(len - 1) == '\r') {
          s.setLength(len - 1);
        }
        return s.toString();
      }
      s.append((char) c);
      if (s.length() > 64 * 1024) {
        throw new IOException("header line too long");
      }
    }
  }

  private static void write(OutputStream out, Response r) throws IOException {
    StringBuilder h = new StringBuilder();
    h.append("HTTP/1.1 ").append(r.status()).append(' ').append(reason(r.status())).append("\r\n");
    for (Map.Entry<String, String> e : r.headers().entrySet()) {
      h.append(e.getKey()).append(": ").append(e.getValue()).append("\r\n");
    }
    h.append("Content-Length: ").append(r.body().length).append("\r\n");
    h.append("Connection: keep-alive\r\n\r\n");
    out.write(h.toString().getBytes(StandardCharsets.ISO_8859_1));
    out.write(r.body());
    out.flush();
  }

  private static String reason(int status) {
    switch (status) {
      case 200:
        return "OK";
      case 201:
        return "Created";
      case 202:
        return "Accepted";
      case 400:
        return "Bad Request";
      case 401:
        return "Unauthorized";
      case 402:
        return "Payment Required";
      case 403:
        return "Forbidden";
      case 404:
        return "Not Found";
      case 500:
        return "Internal Server Error";
      case 503:
        return "Service Unavailable";
      default:
        return "Status";
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException e) {
      // closing
    }
    for (Socket s : open) {
      try {
        s.close();
      } catch (IOException e) {
        // closing
      }
    }
    connections.shutdownNow();
  }
}
