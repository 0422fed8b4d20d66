package dev.kiln.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Digest;
import dev.kiln.spi.RemoteCache;
import java.io.FileNotFoundException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every {@link RemoteCache} backend must do; a backend's test extends this and says how to
 * make one.
 */
public abstract class RemoteCacheContract {
  @TempDir protected Path tmp;

  /** A fresh, empty cache on a running server. */
  protected abstract RemoteCache cache() throws Exception;

  private Path blobFile(String name, int size, long seed) throws Exception {
    byte[] b = new byte[size];
    new Random(seed).nextBytes(b);
    Path f = tmp.resolve(name);
    Files.write(f, b);
    return f;
  }

  @Test
  void blobsRoundTripAndArePushedOnce() throws Exception {
    try (RemoteCache c = cache()) {
      Path f = blobFile("blob", 3 << 20, 1);
      Digest d = Digest.of(Files.readAllBytes(f));
      assertThat(c.hasBlob(d)).isFalse();
      AtomicLong progress = new AtomicLong();
      assertThat(c.pushBlob(d, Files.size(f), "application/octet-stream", f, progress::set))
          .isEqualTo(3 << 20);
      assertThat(progress.get()).isEqualTo(3 << 20);
      assertThat(c.hasBlob(d)).isTrue();
      assertThat(c.pushBlob(d, Files.size(f), "application/octet-stream", f, n -> {}))
          .as("present: not sent again")
          .isZero();
      Path back = tmp.resolve("back");
      AtomicLong got = new AtomicLong();
      c.fetchBlob(d, back, got::set);
      assertThat(Files.readAllBytes(back)).isEqualTo(Files.readAllBytes(f));
      assertThat(got.get()).isEqualTo(3 << 20);
    }
  }

  @Test
  void aMissingBlobIsFileNotFound() throws Exception {
    try (RemoteCache c = cache()) {
      Digest d = Digest.of("never pushed".getBytes(StandardCharsets.UTF_8));
      assertThatThrownBy(() -> c.fetchBlob(d, tmp.resolve("x"), n -> {}))
          .isInstanceOf(FileNotFoundException.class);
    }
  }

  @Test
  void entriesAreStoredReplacedAndKeptApartByNamespace() throws Exception {
    try (RemoteCache c = cache()) {
      Path f = blobFile("b", 1000, 2);
      Digest d = Digest.of(Files.readAllBytes(f));
      c.pushBlob(d, 1000, "application/vnd.oci.image.layer.v1.tar+gzip", f, n -> {});
      String key = "a".repeat(64);
      assertThat(c.getEntry("keys", key)).isEmpty();
      byte[] v1 = "{\"v\":1}".getBytes(StandardCharsets.UTF_8);
      c.putEntry(
          "keys",
          key,
          v1,
          Optional.of(
              new RemoteCache.BlobRef(d, 1000, "application/vnd.oci.image.layer.v1.tar+gzip")));
      assertThat(c.getEntry("keys", key)).hasValueSatisfying(v -> assertThat(v).isEqualTo(v1));
      assertThat(c.getEntry("disks", key)).isEmpty();
      byte[] v2 = "{\"v\":2,\"snapshot\":\"snap-0123\"}".getBytes(StandardCharsets.UTF_8);
      c.putEntry("keys", key, v2, Optional.empty());
      assertThat(c.getEntry("keys", key)).hasValueSatisfying(v -> assertThat(v).isEqualTo(v2));
      c.putEntry("ec2-snapshots", "eu-west-1." + key.substring(0, 40), v1, Optional.empty());
      assertThat(c.getEntry("ec2-snapshots", "eu-west-1." + key.substring(0, 40)))
          .hasValueSatisfying(v -> assertThat(v).isEqualTo(v1));
    }
  }

  @Test
  void concurrentWritersOfOneKeyLeaveOneWholeValue() throws Exception {
    try (RemoteCache c = cache()) {
      String key = "b".repeat(64);
      int writers = 8;
      List<byte[]> values = new ArrayList<>();
      for (int i = 0; i < writers; i++) {
        values.add(
            ("{\"writer\":" + i + ",\"pad\":\"" + "x".repeat(2000 + i) + "\"}")
                .getBytes(StandardCharsets.UTF_8));
      }
      ExecutorService pool = Executors.newFixedThreadPool(writers);
      try {
        for (int round = 0; round < 3; round++) {
          List<Future<?>> fs = new ArrayList<>();
          for (byte[] v : values) {
            fs.add(
                pool.submit(
                    () -> {
                      c.putEntry("keys", key, v, Optional.empty());
                      return null;
                    }));
          }
          for (Future<?> f : fs) {
            f.get();
          }
          byte[] got = c.getEntry("keys", key).orElseThrow();
          assertThat(values)
              .as("the entry is one writer's whole value")
              .anySatisfy(v -> assertThat(v).isEqualTo(got));
        }
      } finally {
        pool.shutdownNow();
      }
    }
  }
}
