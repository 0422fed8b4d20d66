package dev.kiln.vmware.internal.vsphere;

import static com.google.common.base.Preconditions.checkArgument;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.vmware.auth.Credentials;
import dev.kiln.vmware.auth.TlsTrust;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small client for vCenter's content library REST API ({@code /rest/com/vmware/content/…}):
 * session login, find and create libraries and items, update sessions (add file, upload by PUT,
 * complete or cancel), item files, and download sessions to read a stored file back.
 *
 * <p>Thread-safe.
 */
public final class ContentLibraryClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ContentLibraryClient.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SESSION_HEADER = "vmware-api-session-id";
  private static final Duration CALL_TIMEOUT = Duration.ofMinutes(5);

  /**
   * A library item as the API describes it.
   *
   * @param id the item id
   * @param libraryId the library it is in
   * @param name its name, unique in the library
   * @param type {@code ovf}, {@code vm-template}, … or empty
   * @param description its description, empty if none
   * @param created when it was created ({@code creation_time}), if the server said
   */
  public record Item(
      String id,
      String libraryId,
      String name,
      String type,
      String description,
      Optional<Instant> created) {}

  /**
   * A file of a library item.
   *
   * @param name the file name
   * @param size its size in bytes, -1 if the server did not say
   */
  public record ItemFile(String name, long size) {}

  private final URI base;
  private final Http http;
  private final String session;

  private ContentLibraryClient(URI base, Http http, String session) {
    this.base = base;
    this.http = http;
    this.session = session;
  }

  /**
   * Logs in to {@code https://HOST/rest} with basic authentication and keeps the session id.
   *
   * @param host a host name or address, with an optional {@code :port}
   */
  public static ContentLibraryClient connect(String host, Credentials credentials, TlsTrust trust)
      throws IOException {
    checkArgument(
        host != null && !host.isBlank() && !host.contains("/"),
        "expected HOST[:PORT], found '%s'",
        host);
    URI base = URI.create("https://" + host + "/rest");
    Http http = new Http(trust);
    String basic =
        Base64.getEncoder()
            .encodeToString(
                (credentials.user() + ":" + credentials.password())
                    .getBytes(StandardCharsets.UTF_8));
    HttpResponse<byte[]> res =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/com/vmware/cis/session"))
                .timeout(CALL_TIMEOUT)
                .header("Authorization", "Basic " + basic)
                .header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.noBody())
                .build());
    if (res.statusCode() == 401 || res.statusCode() == 403) {
      throw new VsphereException(
          "InvalidLogin", "content library login as " + credentials.user() + " refused");
    }
    JsonNode value = check(res, "POST /com/vmware/cis/session").path("value");
    if (!value.isTextual()) {
      throw new VsphereException("content library login answered without a session id");
    }
    return new ContentLibraryClient(base, http, value.asText());
  }

  /** The ids of libraries named {@code name} (case-insensitive, as vCenter matches). */
  public List<String> findLibraries(String name) throws IOException {
    return strings(
        post(
                "/com/vmware/content/library?~action=find",
                new LibraryRequests.FindLibrary(new LibraryRequests.NameSpec(name)))
            .path("value"));
  }

  /**
   * Creates a local library backed by {@code datastoreId} (a datastore's managed object id) and
   * returns its id.
   */
  public String createLocalLibrary(String name, String datastoreId) throws IOException {
    var body =
        new LibraryRequests.CreateLibrary(
            LibraryRequests.token(),
            new LibraryRequests.LibrarySpec(
                name,
                "LOCAL",
                List.of(new LibraryRequests.StorageBacking("DATASTORE", datastoreId))));
    return post("/com/vmware/content/local-library", body).path("value").asText();
  }

  /** The id of the item named {@code name} in library {@code libraryId}, if there is one. */
  public Optional<String> findItem(String libraryId, String name) throws IOException {
    var body = new LibraryRequests.FindItem(new LibraryRequests.ItemFindSpec(name, libraryId));
    List<String> ids =
        strings(post("/com/vmware/content/library/item?~action=find", body).path("value"));
    if (ids.size() > 1) {
      throw new VsphereException(
          "library " + libraryId + " holds " + ids.size() + " items named " + name);
    }
    return ids.stream().findFirst();
  }

  /** Reads an item. */
  public Item item(String itemId) throws IOException {
    JsonNode v = get("/com/vmware/content/library/item/id:" + enc(itemId)).path("value");
    return new Item(
        v.path("id").asText(itemId),
        v.path("library_id").asText(""),
        v.path("name").asText(""),
        v.path("type").asText(""),
        v.path("description").asText(""),
        instant(v.path("creation_time").asText("")));
  }

  /** The ids of the items in library {@code libraryId}. */
  public List<String> items(String libraryId) throws IOException {
    return strings(
        get("/com/vmware/content/library/item?library_id=" + enc(libraryId)).path("value"));
  }

  private static Optional<Instant> instant(String s) {
    try {
      return s.isEmpty() ? Optional.empty() : Optional.of(Instant.parse(s));
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }

  /** Creates an item and returns its id. */
  public String createItem(String libraryId, String name, String type, String description)
      throws IOException {
    var body =
        new LibraryRequests.CreateItem(
            LibraryRequests.token(),
            new LibraryRequests.ItemSpec(libraryId, name, type, description));
    return post("/com/vmware/content/library/item", body).path("value").asText();
  }

  /** Replaces an item's description. */
  public void updateDescription(String itemId, String description) throws IOException {
    var body = new LibraryRequests.UpdateItem(new LibraryRequests.DescriptionSpec(description));
    send("PATCH", "/com/vmware/content/library/item/id:" + enc(itemId), body);
  }

  /** Deletes an item and its files. */
  public void deleteItem(String itemId) throws IOException {
    send("DELETE", "/com/vmware/content/library/item/id:" + enc(itemId), null);
  }

  /** The item's files. */
  public List<ItemFile> files(String itemId) throws IOException {
    List<ItemFile> out = new ArrayList<>();
    for (JsonNode f :
        get("/com/vmware/content/library/item/file?library_item_id=" + enc(itemId)).path("value")) {
      out.add(new ItemFile(f.path("name").asText(), f.path("size").asLong(-1)));
    }
    return out;
  }

  /** Opens an update session on an item and returns its id. */
  public String createUpdateSession(String itemId) throws IOException {
    var body =
        new LibraryRequests.CreateSession(
            LibraryRequests.token(), new LibraryRequests.SessionSpec(itemId));
    return post("/com/vmware/content/library/item/update-session", body).path("value").asText();
  }

  /** Announces a file to be pushed in an update session and returns the URI to PUT it to. */
  public URI addFile(String sessionId, String name, long size) throws IOException {
    var body = new LibraryRequests.AddFile(new LibraryRequests.FileSpec(name, "PUSH", size));
    JsonNode v =
        post(
                "/com/vmware/content/library/item/updatesession/file/id:"
                    + enc(sessionId)
                    + "?~action=add",
                body)
            .path("value");
    String uri = v.path("upload_endpoint").path("uri").asText("");
    if (uri.isEmpty()) {
      throw new VsphereException(
          "update session " + sessionId + " gave no upload endpoint for " + name);
    }
    return URI.create(uri);
  }

  /**
   * PUTs {@code length} bytes from {@code in} to an upload endpoint; {@code progress} hears the
   * running total.
   */
  public void upload(URI uploadEndpoint, InputStream in, long length, LongConsumer progress)
      throws IOException {
    HttpResponse<byte[]> res =
        http.upload(
            "PUT",
            uploadEndpoint,
            Map.of(SESSION_HEADER, session, "Content-Type", "application/octet-stream"),
            in,
            length,
            progress);
    if (res.statusCode() / 100 != 2) {
      throw new VsphereException(
          null,
          "upload to "
              + uploadEndpoint
              + " answered HTTP "
              + res.statusCode()
              + ": "
              + VsphereClient.snippet(res.body()));
    }
  }

  /**
   * Completes an update session and waits until vCenter has taken the files in.
   *
   * @throws VsphereException if the session ends in error or does not finish within {@code timeout}
   */
  public void complete(String sessionId, Duration timeout) throws IOException {
    post(
        "/com/vmware/content/library/item/update-session/id:"
            + enc(sessionId)
            + "?~action=complete",
        null);
    Instant deadline = Instant.now().plus(timeout);
    long sleep = 50;
    while (true) {
      JsonNode v =
          get("/com/vmware/content/library/item/update-session/id:" + enc(sessionId)).path("value");
      String state = v.path("state").asText("");
      switch (state) {
        case "DONE" -> {
          return;
        }
        case "ERROR", "CANCELED" ->
            throw new VsphereException(
                "update session " + sessionId + " ended " + state + ": " + v.path("error_message"));
        default -> {
          if (Instant.now().isAfter(deadline)) {
            throw new VsphereException(
                "update session " + sessionId + " still " + state + " after " + timeout);
          }
          sleep(sleep);
          sleep = Math.min(1000, sleep * 2);
        }
      }
    }
  }

  /** Cancels an update session: the files it received are dropped. */
  public void cancel(String sessionId) throws IOException {
    post(
        "/com/vmware/content/library/item/update-session/id:" + enc(sessionId) + "?~action=cancel",
        null);
  }

  /** The ids of the open update sessions. */
  public List<String> updateSessions() throws IOException {
    return strings(get("/com/vmware/content/library/item/update-session").path("value"));
  }

  /**
   * The state of an update session: {@code ACTIVE}, {@code DONE}, {@code ERROR} or {@code
   * CANCELED}.
   */
  public String updateSessionState(String sessionId) throws IOException {
    return get("/com/vmware/content/library/item/update-session/id:" + enc(sessionId))
        .path("value")
        .path("state")
        .asText("");
  }

  /**
   * Reads a stored file of an item through a download session, writing it to {@code out}; returns
   * its length.
   */
  public long download(String itemId, String fileName, OutputStream out) throws IOException {
    var create =
        new LibraryRequests.CreateSession(
            LibraryRequests.token(), new LibraryRequests.SessionSpec(itemId));
    String sid =
        post("/com/vmware/content/library/item/download-session", create).path("value").asText();
    try {
      var prepare = new LibraryRequests.PrepareFile(fileName);
      String path = "/com/vmware/content/library/item/downloadsession/file/id:" + enc(sid);
      JsonNode info = post(path + "?~action=prepare", prepare).path("value");
      Instant deadline = Instant.now().plus(Duration.ofMinutes(10));
      while (!info.path("status").asText("").equals("PREPARED")) {
        if (info.path("status").asText("").equals("ERROR") || Instant.now().isAfter(deadline)) {
          throw new VsphereException(
              "file " + fileName + " of item " + itemId + " not prepared: " + info);
        }
        sleep(200);
        info = post(path + "?~action=get", prepare).path("value");
      }
      URI uri = URI.create(info.path("download_endpoint").path("uri").asText());
      HttpResponse<InputStream> res =
          http.sendStream(
              HttpRequest.newBuilder(uri).header(SESSION_HEADER, session).GET().build());
      try (InputStream in = res.body()) {
        if (res.statusCode() != 200) {
          throw new VsphereException("GET " + uri + " answered HTTP " + res.statusCode());
        }
        return in.transferTo(out);
      }
    } finally {
      try {
        send("DELETE", "/com/vmware/content/library/item/download-session/id:" + enc(sid), null);
      } catch (IOException e) {
        log.debug("closing download session {} failed: {}", sid, e.toString());
      }
    }
  }

  /** Logs out. Errors are logged, not thrown: the session expires on its own. */
  @Override
  public void close() {
    try {
      send("DELETE", "/com/vmware/cis/session", null);
    } catch (IOException | RuntimeException e) {
      log.debug("content library logout failed: {}", e.toString());
    }
  }

  @Override
  public String toString() {
    return "ContentLibraryClient{" + base + "}";
  }

  // ---- REST ----

  private JsonNode get(String path) throws IOException {
    return send("GET", path, null);
  }

  private JsonNode post(String path, Object body) throws IOException {
    return send("POST", path, body);
  }

  private JsonNode send(String method, String path, Object body) throws IOException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(CALL_TIMEOUT)
            .header(SESSION_HEADER, session)
            .header("Accept", "application/json");
    if (body != null) {
      b.header("Content-Type", "application/json")
          .method(method, HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
    } else {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    }
    return check(http.send(b.build()), method + " " + path);
  }

  private static JsonNode check(HttpResponse<byte[]> res, String what) throws IOException {
    byte[] body = res.body();
    if (res.statusCode() / 100 != 2) {
      String type = "";
      try {
        JsonNode err = JSON.readTree(body);
        type = err.path("type").asText("");
        if (type.isEmpty()) {
          type = err.path("value").path("error_type").asText("");
        }
      } catch (IOException ignored) {
        // not JSON: the status and the body say enough
      }
      throw new VsphereException(
          type.isEmpty() ? null : type.replaceFirst("^com\\.vmware\\.vapi\\.std\\.errors\\.", ""),
          what + " answered HTTP " + res.statusCode() + ": " + VsphereClient.snippet(body));
    }
    if (body.length == 0) {
      return JSON.createObjectNode();
    }
    return JSON.readTree(body);
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    for (JsonNode n : array) {
      out.add(n.asText());
    }
    return out;
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  private static void sleep(long millis) throws InterruptedIOException {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for vCenter");
    }
  }
}
