package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.internal.keys.StatIndex;
import dev.kiln.testing.Settle;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An archive that passed the reuse check is remembered by its stat ({@code stat/outputs}) so a
 * no-op bake does not read it again; any write to it since, even one that keeps its size and puts
 * its mtime back, makes the next bake check it again and write it anew.
 */
class CheckedArchiveMemoTest {
  @TempDir Path tmp;

  @Test
  void aRememberedArchiveWrittenSinceIsCheckedAgain() throws Exception {
    Path in = Files.createDirectories(tmp.resolve("in"));
    byte[] noise = new byte[600_000];
    new Random(7).nextBytes(noise);
    Files.write(in.resolve("noise.bin"), noise);
    ImageBuild build = ImageBuild.from(Base.scratch()).layer(Layer.files("noise").add(in, "/data"));
    Path archive = tmp.resolve("out/image.tar");
    String target = "oci-archive:" + archive;
    Path memo = tmp.resolve("store/stat/outputs");
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      kiln.bake(build, target);
      String written = StatIndex.hash(archive);
      Settle
          .inputs(); // the archive's last write is older than one timestamp tick: a check of it is
      // remembered
      assertThat(kiln.bake(build, target).published().get(target).reused()).isTrue();
      assertThat(memo).as("the memo of checked outputs").exists();
      long lines = Files.readAllLines(memo).size();
      assertThat(kiln.bake(build, target).published().get(target).reused()).isTrue();
      assertThat(Files.readAllLines(memo))
          .as("a vouched archive adds no line")
          .hasSize((int) lines);

      // one byte flipped in place, same size, mtime put back: only the ctime tells
      FileTime mtime = Files.getLastModifiedTime(archive);
      try (RandomAccessFile f = new RandomAccessFile(archive.toFile(), "rw")) {
        f.seek(Files.size(archive) / 2);
        int b = f.read();
        f.seek(Files.size(archive) / 2);
        f.write(~b);
      }
      Files.setLastModifiedTime(archive, mtime);
      BakeResult r = kiln.bake(build, target);
      assertThat(r.published().get(target).reused())
          .as("a remembered archive written since")
          .isFalse();
      assertThat(StatIndex.hash(archive)).isEqualTo(written);
    }
  }

  /**
   * Damaged memo files (garbage, a line cut by a kill) vouch for nothing: the archive is checked in
   * full.
   */
  @Test
  void aDamagedMemoVouchesForNothing() throws Exception {
    Path in = Files.createDirectories(tmp.resolve("in"));
    Files.write(in.resolve("a.bin"), new byte[300_000]);
    ImageBuild build = ImageBuild.from(Base.scratch()).layer(Layer.files("a").add(in, "/data"));
    Path archive = tmp.resolve("out/image.tar");
    String target = "oci-archive:" + archive;
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      kiln.bake(build, target);
    }
    String written = StatIndex.hash(archive);
    Settle.inputs();
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      assertThat(kiln.bake(build, target).published().get(target).reused()).isTrue();
    }
    Path outputs = tmp.resolve("store/stat/outputs");
    String memo = Files.readString(outputs);
    Files.writeString(outputs, memo.substring(0, memo.length() - 7) + "\n\u0000garbage 1 2\n");
    Files.writeString(tmp.resolve("store/stat/blobs"), "not a memo\n");
    FileTime mtime = Files.getLastModifiedTime(archive);
    try (RandomAccessFile f = new RandomAccessFile(archive.toFile(), "rw")) {
      f.setLength(Files.size(archive) - 512);
    }
    Files.setLastModifiedTime(archive, mtime);
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      assertThat(kiln.bake(build, target).published().get(target).reused()).isFalse();
    }
    assertThat(StatIndex.hash(archive)).isEqualTo(written);
  }
}
