package dev.kiln.s3.hostile;

import static dev.kiln.testing.RemoteCaches.open;
import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Kiln;
import dev.kiln.RetentionReport;
import dev.kiln.s3.S3ProxyServer;
import dev.kiln.spi.RemoteCache;
import dev.kiln.spi.RetentionPlan;
import dev.kiln.testing.RemoteCaches;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Retention of an {@code s3://} cache whose prefix holds what Kiln did not write: objects of other
 * shapes, entries with metadata that is not Kiln's, a sibling prefix that starts with the same
 * characters. Only Kiln's own entries and blobs may go.
 */
class S3RetentionHostileIT {
  @TempDir Path tmp;

  @Test
  void onlyKilnsOwnEntriesAndBlobsUnderThePrefixGo() throws Exception {
    try (S3ProxyServer server = S3ProxyServer.start("hostile");
        S3Client s3 =
            S3Client.builder()
                .endpointOverride(URI.create(server.endpoint()))
                .forcePathStyle(true)
                .region(Region.US_EAST_1)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .build()) {
      String uri = server.uri("hostile", "team/cache");
      String hex = "e".repeat(64);
      try (RemoteCache cache = open(uri)) {
        RemoteCaches.putWithBlob(
            cache,
            tmp,
            hex,
            "layer".getBytes(StandardCharsets.UTF_8),
            "{}".getBytes(StandardCharsets.UTF_8));
      }
      List<String> foreign =
          List.of(
              "team/cache/notes.txt",
              "team/cache/keys/README",
              "team/cache/keys/UPPER.json",
              "team/cache/keys/sub/" + hex + ".json",
              "team/cache/blobs/sha256/not-a-digest",
              "team/cache/blobs/sha512/" + hex,
              "team/cache2/keys/" + hex + ".json",
              "team/cache2/blobs/sha256/" + hex,
              "other/keys/" + hex + ".json");
      for (String k : foreign) {
        s3.putObject(r -> r.bucket("hostile").key(k), RequestBody.fromString("not Kiln's"));
      }
      // an entry-shaped object whose metadata is not Kiln's: no blob, a last use that is no time
      s3.putObject(
          r ->
              r.bucket("hostile")
                  .key("team/cache/disks/" + hex + ".json")
                  .metadata(Map.of("kiln-blob", "sha256:zz", "kiln-used", "last tuesday")),
          RequestBody.fromString("{}"));

      RetentionReport r;
      try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).remoteCache(uri).build()) {
        r = kiln.retainRemoteCache(RemoteCache.Retention.keepAll().maxEntries(0));
      }

      assertThat(r.removed(RetentionPlan.ENTRY))
          .extracting(RetentionReport.Item::id)
          .containsExactlyInAnyOrder("keys/" + hex, "disks/" + hex);
      assertThat(r.removed(RetentionPlan.BLOB)).hasSize(1);
      assertThat(r.kept()).isEmpty();
      List<String> left =
          s3.listObjectsV2Paginator(q -> q.bucket("hostile")).contents().stream()
              .map(S3Object::key)
              .toList();
      assertThat(left).containsExactlyInAnyOrderElementsOf(foreign);
    }
  }
}
