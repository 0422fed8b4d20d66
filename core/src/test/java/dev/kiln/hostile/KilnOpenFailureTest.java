package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Kiln;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Kiln whose settings are refused while it opens leaves nothing open behind: no store session
 * (its lock file and temp directory), no threads; the store opens normally afterwards.
 */
class KilnOpenFailureTest {
  @TempDir Path tmp;

  @Test
  void aRefusedKilnLeavesNoStoreSessionBehind() throws Exception {
    Path store = tmp.resolve("store");
    long threadsBefore = kilnThreads();
    // core's tests have no Attestor on the class path: asking for an SBOM is refused
    assertThatThrownBy(() -> Kiln.builder().store(store).sbom(true).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("no dev.kiln.spi.Attestor");
    assertThat(sessions(store)).as("store sessions left open").isEmpty();
    assertThat(kilnThreads()).isLessThanOrEqualTo(threadsBefore);
    try (Kiln k = Kiln.builder().store(store).build()) {
      assertThat(sessions(store)).hasSize(1);
    }
    assertThat(sessions(store)).isEmpty();
  }

  private static Stream<Path> list(Path dir) throws Exception {
    return Files.isDirectory(dir) ? Files.list(dir) : Stream.empty();
  }

  private static java.util.List<Path> sessions(Path store) throws Exception {
    try (Stream<Path> s = list(store.resolve("tmp"))) {
      return s.filter(p -> p.getFileName().toString().endsWith(".lock")).toList();
    }
  }

  private static long kilnThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().startsWith("kiln-compress"))
        .count();
  }
}
