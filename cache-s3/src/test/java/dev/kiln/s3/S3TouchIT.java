package dev.kiln.s3;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Digest;
import dev.kiln.testing.RemoteCaches;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;

/** How an {@code s3://} cache records the use of an entry. */
class S3TouchIT {
  @TempDir Path tmp;

  private static S3Client plain(S3ProxyServer server) {
    return S3Client.builder()
        .endpointOverride(URI.create(server.endpoint()))
        .forcePathStyle(true)
        .region(Region.US_EAST_1)
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .build();
  }

  @Test
  void aUseIsMetadataOnTheEntryAndNeverLandsOnAnEntryWrittenSinceItWasRead() throws Exception {
    String key = "a".repeat(64);
    String object = "p/keys/" + key + ".json";
    try (S3ProxyServer server = S3ProxyServer.start("touch");
        S3Client s3 = plain(server);
        S3RemoteCache reader = S3RemoteCache.of(URI.create(server.uri("touch", "p")));
        S3RemoteCache writer = S3RemoteCache.of(URI.create(server.uri("touch", "p")))) {
      Digest d =
          RemoteCaches.putWithBlob(
              reader,
              tmp,
              key,
              "layer".getBytes(StandardCharsets.UTF_8),
              "{\"a\":1}".getBytes(StandardCharsets.UTF_8));

      Instant old = Instant.parse("2026-01-02T03:04:05Z");
      reader.touch("keys", key, old);
      HeadObjectResponse h = s3.headObject(r -> r.bucket("touch").key(object));
      assertThat(h.metadata())
          .containsEntry("kiln-used", "2026-01-02T03:04:05Z")
          .containsEntry("kiln-blob", d.toString());
      assertThat(h.contentType()).isEqualTo("application/json");

      // read, then written again by another runner (without a blob), then the read's use recorded
      assertThat(reader.getEntry("keys", key)).isPresent();
      writer.putEntry("keys", key, "{\"a\":2}".getBytes(StandardCharsets.UTF_8), Optional.empty());
      reader.touch("keys", key, Instant.now());
      HeadObjectResponse after = s3.headObject(r -> r.bucket("touch").key(object));
      assertThat(after.metadata()).as("the newer entry's metadata").doesNotContainKey("kiln-blob");
      assertThat(writer.getEntry("keys", key).map(String::new)).contains("{\"a\":2}");

      // a use within a day of the recorded one writes nothing
      reader.touch("keys", key, Instant.now().plus(2, ChronoUnit.HOURS));
      assertThat(s3.headObject(r -> r.bucket("touch").key(object)).metadata())
          .doesNotContainKey("kiln-used");
    }
  }
}
