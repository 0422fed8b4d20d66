package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.RetentionReport;
import dev.kiln.spi.RemoteCache;
import dev.kiln.spi.RetentionPlan;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What retention of a {@code docker://} remote cache does that is the registry's own: last uses
 * kept in a manifest annotation, manifests replaced by a touch deleted, entries of older Kiln
 * versions (no recorded use), and a registry that refuses deletes.
 */
class RegistryRetentionIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path tmp;

  private static String key(char c) {
    return String.valueOf(c).repeat(64);
  }

  private Digest put(RegistryRemoteCache cache, String key) throws Exception {
    byte[] b = ("layer " + key).getBytes(StandardCharsets.UTF_8);
    Path f = tmp.resolve("blob-" + key);
    Files.write(f, b);
    Digest d = Digest.of(b);
    cache.pushBlob(d, b.length, LayerRecord.GZIP_LAYER, f, n -> {});
    cache.putEntry(
        "keys",
        key,
        "{\"a\":1}".getBytes(StandardCharsets.UTF_8),
        Optional.of(new RemoteCache.BlobRef(d, b.length, LayerRecord.GZIP_LAYER)));
    return d;
  }

  private static RegistryClient client(LocalRegistry r) {
    return Registries.client(ImageReference.parse(r.host() + "/x"), true, null);
  }

  @Test
  void aTouchPutsTheManifestAgainWithTheUseAndDeletesTheOneItReplaced() throws Exception {
    try (LocalRegistry registry = LocalRegistry.start(tmp.resolve("registry"))) {
      RegistryRemoteCache cache =
          RegistryRemoteCache.of(URI.create("docker://" + registry.host() + "/cache/touch"));
      Digest blob = put(cache, key('a'));
      RegistryClient c = client(registry);
      String tag = "kiln-keys-" + key('a');
      RegistryClient.Manifest before = c.manifest("cache/touch", tag);
      assertThat(
              JSON.readTree(before.bytes())
                  .path("annotations")
                  .path("dev.kiln.cache.used")
                  .isTextual())
          .as("written with its first use")
          .isTrue();

      Instant old = Instant.parse("2026-01-02T03:04:05Z");
      cache.touch("keys", key('a'), old);

      RegistryClient.Manifest after = c.manifest("cache/touch", tag);
      JsonNode n = JSON.readTree(after.bytes());
      assertThat(n.path("annotations").path("dev.kiln.cache.used").asText())
          .isEqualTo("2026-01-02T03:04:05Z");
      assertThat(n.path("layers").get(0).path("digest").asText()).isEqualTo(blob.toString());
      assertThat(cache.getEntry("keys", key('a')).map(String::new)).contains("{\"a\":1}");
      assertThatThrownBy(() -> c.manifest("cache/touch", before.digest().toString()))
          .as("the manifest the touch replaced")
          .isInstanceOfSatisfying(
              RegistryException.class, e -> assertThat(e.status()).isEqualTo(404));
      assertThat(c.tags("cache/touch")).containsExactly(tag);
    }
  }

  @Test
  void aTouchNeverPutsBackAnEntryThatWasWrittenSinceItWasRead() throws Exception {
    try (LocalRegistry registry = LocalRegistry.start(tmp.resolve("registry"))) {
      URI uri = URI.create("docker://" + registry.host() + "/cache/race");
      RegistryRemoteCache reader = RegistryRemoteCache.of(uri);
      RegistryRemoteCache writer = RegistryRemoteCache.of(uri);
      put(reader, key('a'));
      reader.touch("keys", key('a'), Instant.now().minus(40, ChronoUnit.DAYS));
      assertThat(reader.getEntry("keys", key('a')).map(String::new)).contains("{\"a\":1}");
      // another runner writes the entry again (a repair) between the lookup and its touch
      writer.putEntry(
          "keys", key('a'), "{\"a\":2}".getBytes(StandardCharsets.UTF_8), Optional.empty());
      reader.touch("keys", key('a'), Instant.now());
      assertThat(writer.getEntry("keys", key('a')).map(String::new)).contains("{\"a\":2}");
    }
  }

  @Test
  void retentionSeesEveryTagPageByPage() throws Exception {
    try (LocalRegistry registry = LocalRegistry.start(tmp.resolve("registry"))) {
      RegistryRemoteCache cache =
          RegistryRemoteCache.of(URI.create("docker://" + registry.host() + "/cache/pages"));
      for (char k : "abcde".toCharArray()) {
        put(cache, key(k));
      }
      assertThat(client(registry).tags("cache/pages", 2))
          .containsExactlyInAnyOrder(
              "kiln-keys-" + key('a'),
              "kiln-keys-" + key('b'),
              "kiln-keys-" + key('c'),
              "kiln-keys-" + key('d'),
              "kiln-keys-" + key('e'));
      assertThat(client(registry).tags("cache/nothing-here")).isEmpty();
    }
  }

  @Test
  void entriesWithoutARecordedUseAreKeptAndAgeFromTheFirstRun() throws Exception {
    try (LocalRegistry registry = LocalRegistry.start(tmp.resolve("registry"))) {
      RegistryRemoteCache cache =
          RegistryRemoteCache.of(URI.create("docker://" + registry.host() + "/cache/older"));
      Digest d = put(cache, key('a'));
      // an entry as an older Kiln wrote it: no dev.kiln.cache.used annotation
      RegistryClient c = client(registry);
      byte[] old =
          RegistryRemoteCache.manifest(
              "keys",
              key('b'),
              "{\"b\":1}".getBytes(StandardCharsets.UTF_8),
              Optional.of(new RemoteCache.BlobRef(d, 6 + 64, LayerRecord.GZIP_LAYER)));
      c.putManifest("cache/older", "kiln-keys-" + key('b'), old, RegistryClient.OCI_MANIFEST);

      RemoteCache.Retention policy = RemoteCache.Retention.keepAll().unusedFor(Duration.ofDays(1));
      RetentionReport dry = cache.retain(policy.dryRun(true));
      assertThat(dry.removed()).isEmpty();
      assertThat(dry.kept())
          .filteredOn(i -> i.id().equals("keys/" + key('b')))
          .singleElement()
          .satisfies(i -> assertThat(i.reason()).contains("no recorded use"));
      assertThat(
              JSON.readTree(c.manifest("cache/older", "kiln-keys-" + key('b')).bytes())
                  .path("annotations")
                  .has("dev.kiln.cache.used"))
          .as("a dry run writes nothing")
          .isFalse();

      cache.retain(policy);
      String used =
          JSON.readTree(c.manifest("cache/older", "kiln-keys-" + key('b')).bytes())
              .path("annotations")
              .path("dev.kiln.cache.used")
              .asText();
      assertThat(Instant.parse(used)).isAfter(Instant.now().minus(1, ChronoUnit.HOURS));
    }
  }

  @Test
  void aRegistryThatRefusesDeletesKeepsEveryEntryAndTheReportSaysWhy() throws Exception {
    try (LocalRegistry registry = LocalRegistry.start(tmp.resolve("registry"), false)) {
      RegistryRemoteCache cache =
          RegistryRemoteCache.of(URI.create("docker://" + registry.host() + "/cache/nodelete"));
      put(cache, key('a'));
      put(cache, key('b'));
      cache.touch("keys", key('a'), Instant.now().minus(40, ChronoUnit.DAYS));

      RetentionReport r =
          cache.retain(RemoteCache.Retention.keepAll().unusedFor(Duration.ofDays(30)));

      assertThat(r.removed(RetentionPlan.ENTRY)).isEmpty();
      assertThat(r.kept())
          .filteredOn(i -> i.id().equals("keys/" + key('a')))
          .singleElement()
          .satisfies(
              i ->
                  assertThat(i.reason())
                      .contains("405", "UNSUPPORTED", "REGISTRY_STORAGE_DELETE_ENABLED=true"));
      assertThat(cache.getEntry("keys", key('a'))).isPresent();
      assertThat(cache.getEntry("keys", key('b'))).isPresent();
    }
  }
}
