package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.internal.keys.StatIndex;
import dev.kiln.spi.FileStat;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file hashed within one timestamp tick of its last write could be written again in that same
 * tick without its stat changing: its digest must not be remembered under that stat (git's "racily
 * clean" entries).
 */
class RacyStatTest {
  @TempDir Path tmp;

  @Test
  void aFileHashedInTheTickOfItsLastWriteIsReadAgainNextTime() throws Exception {
    Path f = tmp.resolve("app.conf");
    StatIndex idx = StatIndex.load(tmp.resolve("index"));
    boolean racy = false;
    for (int attempt = 0; attempt < 20 && !racy; attempt++) {
      Files.writeString(f, "mode=SAFE\n");
      assertThat(idx.digest(f).read()).isTrue();
      long after = System.currentTimeMillis() * 1_000_000L;
      // the test means something only if that hash was within the tick of the write (a slow machine
      // retries)
      racy = !StatIndex.settled(FileStat.lstat(f), after);
    }
    assertThat(racy).as("the file was hashed within one tick of its write").isTrue();
    assertThat(idx.digest(f).read()).as("a racy stat was remembered").isTrue();

    // once the write is older than a tick, the digest is remembered
    while (!StatIndex.settled(FileStat.lstat(f), System.currentTimeMillis() * 1_000_000L)) {
      Thread.sleep(10);
    }
    idx.digest(f);
    assertThat(idx.digest(f).read()).as("a settled stat is answered from the index").isFalse();
  }
}
