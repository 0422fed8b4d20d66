package dev.kiln.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.RetentionReport;
import dev.kiln.spi.RemoteCache;
import dev.kiln.spi.RetentionPlan;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongConsumer;

/**
 * {@code docker://HOST[:PORT]/REPO}: a remote cache in a repository of an OCI distribution
 * registry, as BuildKit's {@code --cache-to type=registry} keeps one. Blobs are ordinary blobs of
 * the repository. Each entry is one small OCI artifact manifest tagged {@code kiln-NAMESPACE-KEY}:
 * the entry's JSON is its {@code dev.kiln.cache.entry} annotation (read back with one GET), its
 * config is the OCI empty descriptor, and its one layer is the blob the entry names (or the empty
 * descriptor), so the registry's garbage collector keeps every blob an entry uses.
 *
 * <p>A tag is replaced atomically by one manifest PUT, so writers never read-modify-write a shared
 * index: concurrent writers of one key leave one writer's whole manifest, and every manifest
 * references a blob that was uploaded before it (the registry refuses a manifest whose blobs it
 * lacks). Thread-safe.
 *
 * <p>An entry's last use is its annotation {@code dev.kiln.cache.used} (an ISO instant): written
 * with the entry, and moved on by {@link #touch} when a bake reads an entry whose recorded use is a
 * day or more old, by putting the same manifest again with the new time (the lookup already fetched
 * it; the tag is read again first, so an entry written since is never put back to the old one) and
 * deleting the manifest it replaced. {@link #retain} lists the {@code kiln-*} tags and deletes the
 * manifests of the entries that go, by digest, so an entry touched since it was listed stays; the
 * registry's garbage collection reclaims their blobs.
 */
final class RegistryRemoteCache implements RemoteCache {
  static final String ARTIFACT_TYPE = "application/vnd.dev.kiln.cache.entry.v1+json";
  static final String EMPTY_TYPE = "application/vnd.oci.empty.v1+json";
  static final byte[] EMPTY = "{}".getBytes(StandardCharsets.UTF_8);
  static final Digest EMPTY_DIGEST = Digest.of(EMPTY);
  static final String ENTRY_ANNOTATION = "dev.kiln.cache.entry";
  static final String USED_ANNOTATION = "dev.kiln.cache.used";
  static final String NAMESPACE_ANNOTATION = "dev.kiln.cache.namespace";
  static final String KEY_ANNOTATION = "dev.kiln.cache.key";
  private static final int SEEN_LIMIT = 10_000;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final ImageReference reference;
  private final boolean plainHttp;
  private final RegistryCredentials.Credentials credentials;
  private volatile boolean emptyPushed;

  /** The manifests of the entries last read, by tag: what {@link #touch} puts again. */
  private final Map<String, RegistryClient.Manifest> seen = new ConcurrentHashMap<>();

  private RegistryRemoteCache(
      ImageReference reference, boolean plainHttp, RegistryCredentials.Credentials credentials) {
    this.reference = reference;
    this.plainHttp = plainHttp;
    this.credentials = credentials;
  }

  /**
   * A cache for {@code docker://HOST[:PORT]/REPO[?insecure=true|tls=true]}: no tag (entries are
   * tagged by key). Credentials come from {@code ~/.docker/config.json} as for {@code docker://}
   * targets.
   */
  public static RegistryRemoteCache of(URI uri) {
    String s = uri.toString();
    UriOptions o = UriOptions.parse(s);
    ImageReference ref;
    try {
      ref = ImageReference.parse(o.path());
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "remote cache '" + s + "': expected docker://HOST[:PORT]/REPO: " + e.getMessage(), e);
    }
    if (ref.tag() != null || ref.digest() != null) {
      throw new IllegalArgumentException(
          "remote cache '"
              + s
              + "': name a repository (docker://HOST/REPO), not a tag or digest: entries are tagged by cache key");
    }
    for (String k : o.params().keySet()) {
      if (!k.equals("insecure") && !k.equals("tls")) {
        throw new IllegalArgumentException(
            "remote cache '" + s + "': unknown option '" + k + "' (known: insecure, tls)");
      }
    }
    boolean plain =
        "true".equals(o.params().get("insecure"))
            || (ref.isLoopback() && !"true".equals(o.params().get("tls")));
    return new RegistryRemoteCache(ref, plain, null);
  }

  /** The same cache with credentials given in code instead of those of the Docker configuration. */
  public RegistryRemoteCache credentials(String user, String password) {
    return new RegistryRemoteCache(
        reference,
        plainHttp,
        new RegistryCredentials.Credentials(user, password, "credentials given in code"));
  }

  private RegistryClient client() {
    return Registries.client(reference, plainHttp, credentials);
  }

  private String repo() {
    return reference.repository();
  }

  /**
   * The tag of an entry: {@code kiln-NAMESPACE-KEY}, at most 120 characters of the tag alphabet.
   */
  static String tag(String namespace, String key) {
    RemoteCache.checkEntryName(namespace, key);
    return "kiln-" + namespace + "-" + key;
  }

  @Override
  public String describe() {
    return "docker://" + reference.registry() + "/" + reference.repository();
  }

  @Override
  public boolean hasBlob(Digest digest) throws IOException {
    return client().hasBlob(repo(), digest, RegistryClient.pullScope(repo()));
  }

  @Override
  public void fetchBlob(Digest digest, Path dest, LongConsumer progress) throws IOException {
    InputStream in;
    try {
      in = client().openBlob(repo(), digest);
    } catch (RegistryException e) {
      if (e.status() == 404) {
        throw new FileNotFoundException("blob " + digest + " is not in " + describe());
      }
      throw e;
    }
    try (in;
        OutputStream out = Files.newOutputStream(dest, StandardOpenOption.CREATE_NEW)) {
      byte[] buf = new byte[1 << 16];
      long done = 0;
      for (int n; (n = in.read(buf)) > 0; ) {
        out.write(buf, 0, n);
        done += n;
        progress.accept(done);
      }
    }
  }

  @Override
  public long pushBlob(Digest digest, long size, String mediaType, Path file, LongConsumer progress)
      throws IOException {
    long sent = uploadIfMissing(client(), digest, size, () -> Files.newInputStream(file), progress);
    Registries.seen(reference.registry(), digest, repo());
    return sent;
  }

  /**
   * Uploads a blob the repository lacks. Concurrent uploads of one blob (runners that provisioned
   * the same layer) can make distribution answer DIGEST_INVALID to all but one of them: a failed
   * upload whose blob is there afterwards was somebody else's success, and a second attempt covers
   * the rest.
   */
  private long uploadIfMissing(
      RegistryClient c,
      Digest digest,
      long size,
      RegistryClient.BlobSource source,
      LongConsumer progress)
      throws IOException {
    for (int attempt = 1; ; attempt++) {
      if (c.hasBlob(repo(), digest, RegistryClient.pushScope(repo()))) {
        return 0;
      }
      try {
        return c.upload(repo(), digest, size, source, null, progress);
      } catch (RegistryException e) {
        if (attempt >= 3 || e.status() / 100 != 4) {
          throw e;
        }
      }
    }
  }

  @Override
  public Optional<byte[]> getEntry(String namespace, String key) throws IOException {
    RegistryClient.Manifest m;
    try {
      m = client().manifest(repo(), tag(namespace, key));
    } catch (RegistryException e) {
      if (e.status() == 404) {
        return Optional.empty();
      }
      throw e;
    }
    JsonNode entry = JSON.readTree(m.bytes()).path("annotations").path(ENTRY_ANNOTATION);
    if (entry.isTextual()) {
      if (seen.size() >= SEEN_LIMIT) {
        seen.clear();
      }
      seen.put(tag(namespace, key), m);
    }
    if (!entry.isTextual()) {
      throw new IOException(
          describe()
              + ":"
              + tag(namespace, key)
              + " is not a Kiln cache entry (no "
              + ENTRY_ANNOTATION
              + " annotation)");
    }
    return Optional.of(entry.asText().getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public void putEntry(String namespace, String key, byte[] json, Optional<BlobRef> blob)
      throws IOException {
    RegistryClient c = client();
    byte[] manifest =
        manifest(
            namespace, key, json, blob, Optional.of(Instant.now().truncatedTo(ChronoUnit.SECONDS)));
    seen.remove(tag(namespace, key));
    for (int attempt = 1; ; attempt++) {
      if (!emptyPushed) {
        uploadIfMissing(
            c, EMPTY_DIGEST, EMPTY.length, () -> new java.io.ByteArrayInputStream(EMPTY), n -> {});
        emptyPushed = true;
      }
      try {
        c.putManifest(repo(), tag(namespace, key), manifest, RegistryClient.OCI_MANIFEST);
        return;
      } catch (RegistryException e) {
        // a blob the manifest names can be briefly unknown while a concurrent upload of the same
        // blob settles
        // (distribution relinks it): push the empty config again if need be, wait a little, and try
        // again
        if (attempt >= 3 || !e.codes().contains("MANIFEST_BLOB_UNKNOWN")) {
          throw e;
        }
        emptyPushed = false;
        try {
          Thread.sleep(200L * attempt);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException(
              "interrupted while writing entry " + tag(namespace, key));
        }
      }
    }
  }

  /** The artifact manifest of an entry, without a recorded use. */
  static byte[] manifest(String namespace, String key, byte[] json, Optional<BlobRef> blob)
      throws IOException {
    return manifest(namespace, key, json, blob, Optional.empty());
  }

  /** The artifact manifest of an entry used last at {@code used}. */
  static byte[] manifest(
      String namespace, String key, byte[] json, Optional<BlobRef> blob, Optional<Instant> used)
      throws IOException {
    OciJson.Descriptor empty = new OciJson.Descriptor(EMPTY_TYPE, EMPTY_DIGEST, EMPTY.length);
    Map<String, String> annotations = new LinkedHashMap<>();
    annotations.put(ENTRY_ANNOTATION, new String(json, StandardCharsets.UTF_8));
    annotations.put(NAMESPACE_ANNOTATION, namespace);
    annotations.put(KEY_ANNOTATION, key);
    used.ifPresent(u -> annotations.put(USED_ANNOTATION, u.toString()));
    return OciJson.write(
        new OciJson.ArtifactManifest(
            2,
            RegistryClient.OCI_MANIFEST,
            ARTIFACT_TYPE,
            empty,
            List.of(
                blob.map(b -> new OciJson.Descriptor(b.mediaType(), b.digest(), b.size()))
                    .orElse(empty)),
            annotations));
  }

  @Override
  public void touch(String namespace, String key, Instant at) throws IOException {
    String tag = tag(namespace, key);
    RegistryClient c = client();
    RegistryClient.Manifest seenManifest = seen.remove(tag);
    RegistryClient.Manifest m = seenManifest;
    if (m == null) {
      try {
        m = c.manifest(repo(), tag);
      } catch (RegistryException e) {
        if (e.status() == 404) {
          return;
        }
        throw e;
      }
    }
    JsonNode root = JSON.readTree(m.bytes());
    if (!(root instanceof ObjectNode o) || !(o.path("annotations") instanceof ObjectNode notes)) {
      return; // not an entry
    }
    Instant when = at.truncatedTo(ChronoUnit.SECONDS);
    Optional<Instant> used = used(notes);
    if (used.isPresent() && recent(used.get(), when)) {
      return;
    }
    if (m == seenManifest) {
      // the lookup may be a while ago: a registry has no conditional PUT, so read the tag again and
      // leave an entry written since alone (its write is a newer use), rather than put the old one
      // back over it
      Digest current;
      try {
        current = c.manifest(repo(), tag).digest();
      } catch (RegistryException e) {
        if (e.status() == 404) {
          return;
        }
        throw e;
      }
      if (!current.equals(m.digest())) {
        return;
      }
    }
    notes.put(USED_ANNOTATION, when.toString());
    byte[] bytes = JSON.writeValueAsBytes(o);
    c.putManifest(repo(), tag, bytes, RegistryClient.OCI_MANIFEST);
    // the manifest replaced is untagged now: delete it, where the registry allows, so touches
    // leave nothing behind (a registry that refuses deletes keeps it until garbage-collect
    // --delete-untagged)
    if (!m.digest().equals(Digest.of(bytes))) {
      try {
        c.deleteManifest(repo(), m.digest());
      } catch (IOException e) {
        // best effort
      }
    }
  }

  /** Whether a use recorded at {@code used} already covers a use at {@code at} (same day). */
  static boolean recent(Instant used, Instant at) {
    return !at.isBefore(used) && Duration.between(used, at).compareTo(Duration.ofDays(1)) < 0;
  }

  private static Optional<Instant> used(JsonNode annotations) {
    JsonNode u = annotations.path(USED_ANNOTATION);
    if (!u.isTextual()) {
      return Optional.empty();
    }
    try {
      return Optional.of(Instant.parse(u.asText()));
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }

  @Override
  public RetentionReport retain(Retention policy) throws IOException {
    long start = System.nanoTime();
    Instant now = Instant.now();
    RegistryClient c = client();
    List<RetentionPlan.Entry> entries = new ArrayList<>();
    Map<RetentionPlan.Entry, Digest> manifests = new LinkedHashMap<>();
    for (String tag : c.tags(repo())) {
      if (!tag.startsWith("kiln-")) {
        continue;
      }
      RegistryClient.Manifest m;
      try {
        m = c.manifest(repo(), tag);
      } catch (RegistryException e) {
        if (e.status() == 404) {
          continue; // deleted since it was listed
        }
        throw e;
      }
      JsonNode root = JSON.readTree(m.bytes());
      JsonNode notes = root.path("annotations");
      String namespace = notes.path(NAMESPACE_ANNOTATION).asText("");
      String key = notes.path(KEY_ANNOTATION).asText("");
      if (!notes.path(ENTRY_ANNOTATION).isTextual()
          || !RemoteCache.NAMESPACE.matcher(namespace).matches()
          || !RemoteCache.KEY.matcher(key).matches()
          || !tag.equals(tag(namespace, key))) {
        continue; // a tag of someone else's
      }
      JsonNode layer = root.path("layers").path(0);
      Optional<Digest> blob = Optional.empty();
      long bytes = 0;
      if (layer.isObject() && !EMPTY_DIGEST.toString().equals(layer.path("digest").asText())) {
        try {
          blob = Optional.of(Digest.parse(layer.path("digest").asText()));
          bytes = Math.max(0, layer.path("size").asLong());
        } catch (RuntimeException e) {
          blob = Optional.empty();
        }
      }
      RetentionPlan.Entry e = new RetentionPlan.Entry(namespace, key, blob, bytes, used(notes));
      entries.add(e);
      manifests.put(e, m.digest());
    }
    List<RetentionPlan.Decision> decisions = RetentionPlan.decide(entries, policy, now);
    List<RetentionPlan.Decision> done = new ArrayList<>();
    String refused = null;
    for (RetentionPlan.Decision d : decisions) {
      RetentionPlan.Entry e = d.entry();
      if (policy.dryRun()) {
        done.add(d);
      } else if (!d.remove()) {
        if (e.lastUsed().isEmpty()) {
          touch(e.namespace(), e.key(), now); // it ages from now on
        }
        done.add(d);
      } else if (refused != null) {
        done.add(d.keptBecause(refused));
      } else {
        try {
          c.deleteManifest(repo(), manifests.get(e));
          done.add(d);
        } catch (RegistryException ex) {
          if (ex.status() == 405 || ex.codes().contains("UNSUPPORTED")) {
            refused =
                "kept: registry "
                    + reference.registry()
                    + " refuses deletes (HTTP 405 UNSUPPORTED); run it with deletes enabled"
                    + " (storage.delete.enabled: true, REGISTRY_STORAGE_DELETE_ENABLED=true)";
          } else {
            refused = "kept: deleting entries failed: " + ex.getMessage();
          }
          done.add(d.keptBecause(refused));
        }
      }
    }
    List<RetentionReport.Item> blobs = new ArrayList<>();
    Map<Digest, Long> sizes = new LinkedHashMap<>();
    for (RetentionPlan.Entry e : entries) {
      e.blob().ifPresent(b -> sizes.put(b, e.bytes()));
    }
    for (Digest b : RetentionPlan.blobsFreed(done)) {
      blobs.add(
          new RetentionReport.Item(
              RetentionPlan.BLOB,
              b.toString(),
              sizes.getOrDefault(b, 0L),
              "named by no entry kept: the registry's garbage collection (registry"
                  + " garbage-collect) frees it"));
    }
    return RetentionPlan.report(describe(), policy.dryRun(), done, blobs, List.of(), 0, start);
  }

  /** The path and query options of a {@code docker://} URI. */
  private record UriOptions(String path, java.util.Map<String, String> params) {
    static UriOptions parse(String s) {
      String rest = s.startsWith("docker://") ? s.substring("docker://".length()) : s;
      java.util.Map<String, String> params = new java.util.TreeMap<>();
      int q = rest.indexOf('?');
      if (q >= 0) {
        for (String kv : rest.substring(q + 1).split("&")) {
          if (!kv.isEmpty()) {
            int eq = kv.indexOf('=');
            params.put(eq < 0 ? kv : kv.substring(0, eq), eq < 0 ? "true" : kv.substring(eq + 1));
          }
        }
        rest = rest.substring(0, q);
      }
      return new UriOptions(rest, params);
    }
  }
}
