package dev.kiln.internal.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Digest;
import dev.kiln.spi.FileStat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code stat/blobs} vouches for when a store is opened: the last well-formed line of a blob,
 * and only for that blob's exact stat; anything else is ignored, so the blob is hashed again.
 */
class VerifiedBlobsFileTest {
  @TempDir Path tmp;

  private Path blob(String content) throws IOException {
    Path p = tmp.resolve("blob-" + UUID.randomUUID());
    Files.writeString(p, content);
    return p;
  }

  private static String line(Digest d, FileStat s) {
    return d.hex() + " " + s.size() + " " + s.mtimeNanos() + " " + s.inode() + " " + s.ctimeNanos();
  }

  private VerifiedBlobs open(Path file) {
    return new VerifiedBlobs(file, () -> tmp.resolve("tmp-" + UUID.randomUUID()));
  }

  @Test
  void theLastWellFormedLineOfABlobVouchesForItsExactStatOnly() throws IOException {
    Path a = blob("a");
    Path b = blob("b");
    Path c = blob("c");
    Path d = blob("d");
    Digest da = Digest.of("a".getBytes(StandardCharsets.UTF_8));
    Digest db = Digest.of("b".getBytes(StandardCharsets.UTF_8));
    Digest dc = Digest.of("c".getBytes(StandardCharsets.UTF_8));
    Digest dd = Digest.of("d".getBytes(StandardCharsets.UTF_8));
    FileStat sa = FileStat.lstat(a);
    FileStat sb = FileStat.lstat(b);
    FileStat sc = FileStat.lstat(c);
    FileStat sd = FileStat.lstat(d);
    String wrongB =
        db.hex()
            + " "
            + sb.size()
            + " "
            + (sb.mtimeNanos() + 1)
            + " "
            + sb.inode()
            + " "
            + sb.ctimeNanos();
    Path file = tmp.resolve("blobs");
    Files.writeString(
        file,
        "kiln-verified-blobs 1\n"
            + line(da, sa)
            + "\n"
            + line(db, sb)
            + "\n"
            + wrongB
            + "\n" // the last line of b wins: it no longer vouches
            + line(dc, sc).toUpperCase()
            + "\n" // not lower-case hex
            + line(dc, sc)
            + " 7\n" // a sixth field
            + line(dc, sc).replace(" ", "  ")
            + "\n" // two spaces
            + line(dc, sc).replace(" " + sc.size() + " ", " x ")
            + "\n" // not a number
            + "garbage\n\n"
            + line(dd, sd).substring(0, 80), // torn
        StandardCharsets.UTF_8);

    VerifiedBlobs v = open(file);

    assertThat(v.known(da, sa)).isTrue();
    assertThat(v.known(db, sb)).isFalse();
    assertThat(v.known(dc, sc)).isFalse();
    assertThat(v.known(dd, sd)).isFalse();
    assertThat(v.known(da, sb)).as("another blob's stat").isFalse();
  }

  @Test
  void aFileOfManyRepeatedLinesIsCompactedToOneLinePerBlob() throws IOException {
    Path a = blob("a");
    Digest da = Digest.of("a".getBytes(StandardCharsets.UTF_8));
    FileStat sa = FileStat.lstat(a);
    Path file = tmp.resolve("blobs");
    StringBuilder sb = new StringBuilder("kiln-verified-blobs 1\n");
    for (int i = 0; i < 1500; i++) {
      sb.append(line(da, sa)).append('\n');
    }
    Files.writeString(file, sb, StandardCharsets.UTF_8);

    VerifiedBlobs v = open(file);

    assertThat(v.known(da, sa)).isTrue();
    assertThat(Files.readAllLines(file)).containsExactly("kiln-verified-blobs 1", line(da, sa));
    assertThat(open(file).known(da, sa)).isTrue();
  }
}
