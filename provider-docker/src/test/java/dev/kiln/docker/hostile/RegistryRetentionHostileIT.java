package dev.kiln.docker.hostile;

import static dev.kiln.testing.RemoteCaches.open;
import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Kiln;
import dev.kiln.RetentionReport;
import dev.kiln.docker.LocalRegistry;
import dev.kiln.spi.RemoteCache;
import dev.kiln.spi.RetentionPlan;
import dev.kiln.testing.RemoteCaches;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retention of a {@code docker://} cache whose repository holds what Kiln did not write: an image
 * tag, a {@code kiln-} tag whose manifest names another key, one without an entry, and an entry
 * whose recorded use is no time. Only Kiln's own entries may go.
 */
class RegistryRetentionHostileIT {
  private static final String EMPTY =
      "{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
          + "\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\","
          + "\"size\":2}";
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  @TempDir Path tmp;

  private static String manifest(String annotations) {
    return "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        + "\"config\":"
        + EMPTY
        + ",\"layers\":["
        + EMPTY
        + "]"
        + (annotations == null ? "" : ",\"annotations\":" + annotations)
        + "}";
  }

  private static int put(LocalRegistry r, String tag, String manifest) throws Exception {
    return HTTP.send(
            HttpRequest.newBuilder(
                    URI.create("http://" + r.host() + "/v2/cache/hostile/manifests/" + tag))
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .PUT(HttpRequest.BodyPublishers.ofString(manifest))
                .build(),
            HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }

  private static int get(LocalRegistry r, String tag) throws Exception {
    return HTTP.send(
            HttpRequest.newBuilder(
                    URI.create("http://" + r.host() + "/v2/cache/hostile/manifests/" + tag))
                .header("Accept", "application/vnd.oci.image.manifest.v1+json")
                .GET()
                .build(),
            HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }

  @Test
  void onlyKilnsOwnEntriesGo() throws Exception {
    try (LocalRegistry registry = LocalRegistry.start(tmp.resolve("registry"))) {
      String uri = "docker://" + registry.host() + "/cache/hostile";
      String a = "a".repeat(64);
      String b = "b".repeat(64);
      try (RemoteCache cache = open(uri)) {
        RemoteCaches.putWithBlob(
            cache,
            tmp,
            a,
            "layer".getBytes(StandardCharsets.UTF_8),
            "{}".getBytes(StandardCharsets.UTF_8));
      }
      // an image of someone else's, a kiln- tag whose manifest claims another key, one without an
      // entry, and an entry whose recorded use is no time
      assertThat(put(registry, "latest", manifest(null))).isEqualTo(201);
      assertThat(
              put(
                  registry,
                  "kiln-keys-" + b,
                  manifest(
                      "{\"dev.kiln.cache.entry\":\"{}\",\"dev.kiln.cache.namespace\":\"keys\","
                          + "\"dev.kiln.cache.key\":\""
                          + a
                          + "\"}")))
          .isEqualTo(201);
      assertThat(
              put(
                  registry,
                  "kiln-disks-" + b,
                  manifest(
                      "{\"dev.kiln.cache.namespace\":\"disks\",\"dev.kiln.cache.key\":\""
                          + b
                          + "\"}")))
          .isEqualTo(201);
      assertThat(
              put(
                  registry,
                  "kiln-ec2-snapshots-" + b,
                  manifest(
                      "{\"dev.kiln.cache.entry\":\"{}\","
                          + "\"dev.kiln.cache.namespace\":\"ec2-snapshots\","
                          + "\"dev.kiln.cache.key\":\""
                          + b
                          + "\",\"dev.kiln.cache.used\":\"last tuesday\"}")))
          .isEqualTo(201);

      RetentionReport r;
      try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).remoteCache(uri).build()) {
        r = kiln.retainRemoteCache(RemoteCache.Retention.keepAll().maxEntries(0));
      }

      assertThat(r.removed(RetentionPlan.ENTRY))
          .extracting(RetentionReport.Item::id)
          .containsExactlyInAnyOrder("keys/" + a, "ec2-snapshots/" + b);
      assertThat(r.kept()).isEmpty();
      assertThat(get(registry, "kiln-keys-" + a)).isEqualTo(404);
      assertThat(get(registry, "kiln-ec2-snapshots-" + b)).isEqualTo(404);
      assertThat(get(registry, "latest")).isEqualTo(200);
      assertThat(get(registry, "kiln-keys-" + b)).isEqualTo(200);
      assertThat(get(registry, "kiln-disks-" + b)).isEqualTo(200);
    }
  }
}
