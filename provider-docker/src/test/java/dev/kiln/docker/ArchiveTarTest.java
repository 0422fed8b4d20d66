package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;

/** The docker-archive's own tar writer: what a tar reader reads back, and sizes held to. */
class ArchiveTarTest {

  @Test
  void entriesReadBackAsWrittenWithTheirContentInRecords() throws IOException {
    byte[] big = new byte[3 * 512 + 7];
    new Random(5).nextBytes(big);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ArchiveTar tar = new ArchiveTar(out);
    tar.directory("abc/");
    tar.file("abc/layer.tar", big.length);
    tar.write(big, 0, 100); // in the caller's pieces
    tar.write(big, 100, big.length - 100);
    tar.closeEntry();
    tar.bytes("manifest.json", "[]".getBytes(StandardCharsets.US_ASCII));
    tar.finish();
    byte[] archive = out.toByteArray();
    assertThat(archive.length % 512).isZero();
    try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(archive))) {
      TarArchiveEntry d = in.getNextEntry();
      assertThat(d.getName()).isEqualTo("abc/");
      assertThat(d.isDirectory()).isTrue();
      assertThat(d.getMode()).isEqualTo(040755);
      TarArchiveEntry f = in.getNextEntry();
      assertThat(f.getName()).isEqualTo("abc/layer.tar");
      assertThat(f.getSize()).isEqualTo(big.length);
      assertThat(f.getMode()).isEqualTo(0100644);
      assertThat(f.getModTime().getTime()).isEqualTo(1000);
      assertThat(in.readAllBytes()).isEqualTo(big);
      TarArchiveEntry m = in.getNextEntry();
      assertThat(m.getName()).isEqualTo("manifest.json");
      assertThat(new String(in.readAllBytes(), StandardCharsets.US_ASCII)).isEqualTo("[]");
      assertThat(in.getNextEntry()).isNull();
    }
  }

  @Test
  void aFileOfEightGibibytesOrMoreGetsASizeATarReaderReads() throws IOException {
    long size = (8L << 30) + 5;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ArchiveTar tar = new ArchiveTar(out);
    tar.file("huge/layer.tar", size); // only the header is checked: the content is not written
    tar.flush();
    byte[] header = java.util.Arrays.copyOf(out.toByteArray(), 512);
    TarArchiveEntry e = new TarArchiveEntry(header);
    assertThat(e.getSize()).isEqualTo(size);
  }

  @Test
  void contentLongerOrShorterThanItsHeaderSaidFails() throws IOException {
    ArchiveTar tar = new ArchiveTar(OutputStream.nullOutputStream());
    tar.file("a/layer.tar", 10);
    assertThatThrownBy(() -> tar.write(new byte[11], 0, 11))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("longer than the 10 bytes");
    tar.write(new byte[4], 0, 4);
    assertThatThrownBy(tar::closeEntry)
        .isInstanceOf(IOException.class)
        .hasMessageContaining("6 bytes short of the 10");
    assertThatThrownBy(() -> tar.directory("b/"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("was not ended");
    assertThatThrownBy(tar::finish).isInstanceOf(IOException.class);
  }

  @Test
  void aNameTooLongForTheHeaderIsRefused() {
    ArchiveTar tar = new ArchiveTar(OutputStream.nullOutputStream());
    assertThatThrownBy(() -> tar.file("x".repeat(100), 1))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
