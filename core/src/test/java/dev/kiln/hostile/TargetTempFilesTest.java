package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Kiln;
import dev.kiln.event.BakeEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Temp files beside targets: those of writers that are gone are removed by the next bake of the
 * target, those of live writers (here, another Kiln of this process stopped in the middle of an
 * archive) are left alone. Writers killed in other processes are in {@link KilledTargetWriterIT}.
 */
class TargetTempFilesTest {
  @TempDir Path tmp;

  private static List<Path> tempFiles(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().contains(".kiln-tmp-")).toList();
    }
  }

  @Test
  void aLayoutDropsTempFilesNoWriterHolds() throws Exception {
    Path in = tmp.resolve("in");
    Path d = tmp.resolve("layout");
    String target = "oci:" + d + ":v1";
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      kiln.bake(StalledArchiveWriterMain.definition(in), target);
      // what a writer killed in the middle of a blob or of index.json leaves: unlocked temp files
      Files.write(d.resolve("blobs/sha256/.kiln-tmp-" + UUID.randomUUID()), new byte[100_000]);
      Files.writeString(d.resolve(".kiln-tmp-" + UUID.randomUUID()), "{\"schemaVersion\":");
      BakeResult r = kiln.bake(StalledArchiveWriterMain.definition(in), target);
      assertThat(r.published().get(target).reused()).isTrue();
      assertThat(tempFiles(d)).isEmpty();
      assertThat(tempFiles(d.resolve("blobs/sha256"))).isEmpty();
    }
  }

  @Test
  void aLiveWriterInThisProcessKeepsItsTempFile() throws Exception {
    Path in = tmp.resolve("in");
    Path archive = tmp.resolve("out/image.tar");
    String target = "oci-archive:" + archive;
    CountDownLatch writing = new CountDownLatch(1);
    CountDownLatch resume = new CountDownLatch(1);
    try (Kiln stalled =
            Kiln.builder()
                .store(tmp.resolve("store-a"))
                .listener(
                    e -> {
                      if (e instanceof BakeEvent.BytesWritten w
                          && w.subject().equals(target)
                          && writing.getCount() > 0) {
                        writing.countDown();
                        try {
                          resume.await(2, TimeUnit.MINUTES);
                        } catch (InterruptedException ie) {
                          Thread.currentThread().interrupt();
                        }
                      }
                    })
                .build();
        Kiln other = Kiln.builder().store(tmp.resolve("store-b")).build()) {
      CompletableFuture<BakeResult> first =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return stalled.bake(StalledArchiveWriterMain.definition(in), target);
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              });
      assertThat(writing.await(2, TimeUnit.MINUTES)).isTrue();
      List<Path> live = tempFiles(archive.getParent());
      assertThat(live).hasSize(1);
      other.bake(StalledArchiveWriterMain.definition(in), target);
      assertThat(tempFiles(archive.getParent())).as("the live writer's temp file").isEqualTo(live);
      resume.countDown();
      BakeResult r = first.get(2, TimeUnit.MINUTES);
      assertThat(r.published().get(target).reused()).isFalse();
      assertThat(tempFiles(archive.getParent())).isEmpty();
      assertThat(
              other
                  .bake(StalledArchiveWriterMain.definition(in), target)
                  .published()
                  .get(target)
                  .reused())
          .isTrue();
    }
  }
}
