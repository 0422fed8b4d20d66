package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Digest;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The process-wide book of blob uploads to registries: of two uploads of one blob to two
 * repositories of a registry, registered at the same moment, exactly one is sent and the other
 * waits for it (and then mounts the blob), never both sent.
 */
class RegistriesTest {
  private static final int ROUNDS = 20_000;

  @Test
  void ofTwoUploadsToTwoRepositoriesRegisteredAtOnceOneWaitsForTheOther() throws Exception {
    String registry = "registries-test.invalid:5000";
    AtomicInteger bothSent = new AtomicInteger();
    AtomicInteger neitherSent = new AtomicInteger();
    for (int i = 0; i < ROUNDS; i++) {
      Digest blob = Digest.of(("blob " + i).getBytes(StandardCharsets.UTF_8));
      CyclicBarrier start = new CyclicBarrier(2);
      CompletableFuture<Void> a = new CompletableFuture<>();
      CompletableFuture<Void> b = new CompletableFuture<>();
      CompletableFuture<Boolean> aSends = push(start, registry, blob, "team", a);
      CompletableFuture<Boolean> bSends = push(start, registry, blob, "mirror", b);
      boolean sa = aSends.get();
      boolean sb = bSends.get();
      if (sa && sb) {
        bothSent.incrementAndGet();
      }
      if (!sa && !sb) {
        neitherSent.incrementAndGet();
      }
      a.complete(null);
      b.complete(null);
    }
    assertThat(bothSent).as("rounds where both repositories sent the blob").hasValue(0);
    assertThat(neitherSent).as("rounds where each waited for the other").hasValue(0);
  }

  /**
   * One push's bookkeeping, as {@code RegistryStore.pushBlob} does it: registered, then it sends
   * unless an earlier upload to another repository is under way. Whether it sends.
   */
  private static CompletableFuture<Boolean> push(
      CyclicBarrier start,
      String registry,
      Digest blob,
      String repo,
      CompletableFuture<Void> mine) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            start.await();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
          Optional<CompletableFuture<?>> same = Registries.uploading(registry, blob, repo, mine);
          assertThat(same).isEmpty();
          return Registries.uploadingElsewhere(registry, blob, repo).isEmpty();
        },
        r -> new Thread(r).start());
  }
}
