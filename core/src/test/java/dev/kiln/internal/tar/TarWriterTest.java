package dev.kiln.internal.tar;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TarWriterTest {
  private static String field(byte[] h, int off, int len) {
    return new String(h, off, len, US_ASCII);
  }

  @Test
  void writesPlainUstarHeaders() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    TarWriter w = new TarWriter(out, 1);
    w.writeHeader("dir/file.txt", TarWriter.REGULAR, 04755, 1000, 2000, 5, "", 0, 0, Map.of());
    byte[] h = out.toByteArray();
    assertThat(h).hasSize(512);
    assertThat(field(h, 0, 13)).isEqualTo("dir/file.txt\0");
    assertThat(field(h, 100, 8)).isEqualTo("0004755\0");
    assertThat(field(h, 108, 8)).isEqualTo("0001750\0");
    assertThat(field(h, 116, 8)).isEqualTo("0003720\0");
    assertThat(field(h, 124, 12)).isEqualTo("00000000005\0");
    assertThat(field(h, 136, 12)).isEqualTo("00000000001\0");
    assertThat((char) h[156]).isEqualTo('0');
    assertThat(field(h, 257, 8)).isEqualTo("ustar\00000");
    assertThat(Arrays.copyOfRange(h, 265, 329)).containsOnly(0); // no user or group names
    assertThat(field(h, 329, 16)).isEqualTo("0000000\0" + "0000000\0");
    long sum = 0;
    for (int i = 0; i < 512; i++) {
      sum += (i >= 148 && i < 156) ? ' ' : h[i] & 0xff;
    }
    assertThat(field(h, 148, 8)).isEqualTo(String.format("%06o\0 ", sum));
  }

  @Test
  void matchesGnuTarUstarHeadersByteForByte(@TempDir Path tmp) throws Exception {
    assumeTrue(TarTestSupport.onPath("tar"), "tar not installed");
    Path src = Files.createDirectories(tmp.resolve("src/d"));
    Files.setPosixFilePermissions(src, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.writeString(src.resolve("a.txt"), "hello");
    Files.setPosixFilePermissions(
        src.resolve("a.txt"), PosixFilePermissions.fromString("rw-r--r--"));
    Files.createSymbolicLink(src.resolve("l"), Path.of("a.txt"));
    Path gnu = tmp.resolve("gnu.tar");
    TarTestSupport.Result r =
        TarTestSupport.run(
            src.getParent(),
            "tar",
            "--format=ustar",
            "--numeric-owner",
            "--owner=0",
            "--group=0",
            "--mtime=@1",
            "--no-recursion",
            "-cf",
            gnu.toString(),
            "d/",
            "d/a.txt",
            "d/l");
    assertThat(r.exit()).as(r.err()).isZero();

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    TarWriter w = new TarWriter(out, 1);
    w.writeHeader("d/", TarWriter.DIRECTORY, 0755, 0, 0, 0, "", 0, 0, Map.of());
    w.writeHeader("d/a.txt", TarWriter.REGULAR, 0644, 0, 0, 5, "", 0, 0, Map.of());
    out.writeBytes("hello".getBytes(US_ASCII));
    w.pad(5);
    w.writeHeader("d/l", TarWriter.SYMLINK, 0777, 0, 0, 0, "a.txt", 0, 0, Map.of());
    w.finish();
    byte[] ours = out.toByteArray();
    byte[] theirs = Files.readAllBytes(gnu);
    // GNU tar pads the archive to a 10 KiB record; up to there the bytes are the same.
    assertThat(Arrays.copyOf(theirs, ours.length)).isEqualTo(ours);
    assertThat(Arrays.copyOfRange(theirs, ours.length, theirs.length)).containsOnly(0);
  }

  @Test
  void splitsLongAsciiNamesIntoPrefixAndName() throws IOException {
    String prefix = "p".repeat(150);
    String name = prefix + "/" + "n".repeat(99);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    new TarWriter(out, 1).writeHeader(name, TarWriter.REGULAR, 0644, 0, 0, 0, "", 0, 0, Map.of());
    byte[] h = out.toByteArray();
    assertThat(h).hasSize(512); // no PAX header
    assertThat(field(h, 0, 99)).isEqualTo("n".repeat(99));
    assertThat(field(h, 345, 150)).isEqualTo(prefix);
  }

  @Test
  void writesPaxRecordsOnlyWhenNeeded() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    TarWriter w = new TarWriter(out, 1);
    w.writeHeader(
        "caf\u00e9",
        TarWriter.REGULAR,
        0644,
        1L << 22,
        7,
        12L << 30,
        "",
        0,
        0,
        Map.of("user.a", new byte[] {(byte) 0xff}));
    byte[] all = out.toByteArray();
    assertThat((char) all[156]).isEqualTo('x');
    assertThat(field(all, 0, 16)).isEqualTo("PaxHeaders/caf_\0");
    String records = new String(all, 512, 512, UTF_8);
    assertThat(records)
        .startsWith(
            "25 SCHILY.xattr.user.a=\ufffd\n"
                + "14 path=caf\u00e9\n"
                + "20 size=12884901888\n"
                + "15 uid=4194304\n");
    byte[] h = Arrays.copyOfRange(all, 1024, 1536);
    assertThat(field(h, 108, 8)).isEqualTo("0000000\0"); // the real uid is in PAX
    assertThat(field(h, 116, 8)).isEqualTo("0000007\0");
    assertThat(field(h, 124, 12)).isEqualTo("00000000000\0");
  }

  @Test
  void paxRecordLengthsCountTheirOwnDigits() {
    // 1 + 1 + 1 + 93 + 1 = 97 bytes without the length; with two digits 99, so "99 k=..." is exact
    TreeMap<String, byte[]> r = new TreeMap<>(Map.of("k", "v".repeat(93).getBytes(US_ASCII)));
    assertThat(new String(TarWriter.paxRecords(r), US_ASCII)).startsWith("99 k=").hasSize(99);
    // one more byte of value crosses to three digits: 98 + 3 = 101
    r.put("k", "v".repeat(94).getBytes(US_ASCII));
    assertThat(new String(TarWriter.paxRecords(r), US_ASCII)).startsWith("101 k=").hasSize(101);
  }
}
