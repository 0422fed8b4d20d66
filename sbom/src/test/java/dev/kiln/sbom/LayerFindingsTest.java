package dev.kiln.sbom;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.spi.LayerEntry;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Taking notes while a layer is written never fails the layer: when the notes cannot go on, they
 * are dropped (and the layer is read back for the SBOMs), and nothing is left behind.
 */
class LayerFindingsTest {
  @TempDir Path tmp;

  private static byte[] jarBytes(Path tmp) throws Exception {
    return Files.readAllBytes(
        SbomFixtures.jar(tmp.resolve("x.jar"), "g", "x", "groupId=g\nartifactId=x\nversion=1\n"));
  }

  private static void write(LayerFindings f, LayerEntry e, byte[] content) throws IOException {
    OutputStream out = f.entry(e);
    if (out != null) {
      try (out) {
        out.write(content);
      }
    }
  }

  @Test
  void noRoomForAJarsCopyDropsTheNotesWithoutFailingTheLayer() throws Exception {
    byte[] jar = jarBytes(tmp);
    LayerFindings f =
        new LayerFindings(
            false,
            100,
            1000,
            () -> {
              throw new IOException("No space left on device");
            });
    write(f, LayerEntry.directory("opt", 0755), new byte[0]);
    write(f, LayerEntry.file("opt/x.jar", 0644, jar), jar);
    write(
        f,
        LayerEntry.file("etc/os-release", 0644, "ID=debian\n".getBytes()),
        "ID=debian\n".getBytes());
    assertThat(f.complete()).isFalse();
    assertThat(f.entries()).isEmpty();
  }

  @Test
  void aJarCopyThatCannotBeWrittenDropsTheNotesAndLeavesNothing() throws Exception {
    byte[] jar = jarBytes(tmp);
    Path dir = Files.createDirectories(tmp.resolve("copies"));
    Path[] made = new Path[1];
    LayerFindings f =
        new LayerFindings(
            false,
            100,
            1000,
            () -> {
              made[0] = Files.createTempFile(dir, "jar-", ".jar");
              // a directory's path where the copy should be written: the writes fail
              Files.delete(made[0]);
              Files.createDirectory(made[0]);
              return made[0];
            });
    write(f, LayerEntry.file("opt/x.jar", 0644, jar), jar);
    assertThat(f.complete()).isFalse();
    try (Stream<Path> s = Files.list(dir)) {
      assertThat(s.toList()).isEmpty();
    }
  }

  @Test
  void aDiskThatFillsUpWhileAJarIsCopiedDropsTheNotesAndRemovesTheCopy() throws Exception {
    Path full = Path.of("/dev/full"); // every write fails with ENOSPC
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(full));
    byte[] jar = jarBytes(tmp);
    Path copy = tmp.resolve("copy.jar");
    LayerFindings f =
        new LayerFindings(false, 100, 1000, () -> Files.createSymbolicLink(copy, full));
    OutputStream out = f.entry(LayerEntry.file("opt/x.jar", 0644, jar));
    assertThat(out).isNotNull();
    out.write(jar); // the layer's own write goes on
    out.close();
    assertThat(f.complete()).isFalse();
    assertThat(copy).doesNotExist();
    assertThat(full).exists();
    // later entries are not noted
    assertThat(f.entry(LayerEntry.file("etc/os-release", 0644, new byte[1]))).isNull();
  }
}
