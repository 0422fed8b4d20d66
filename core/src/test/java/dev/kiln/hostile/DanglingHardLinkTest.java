package dev.kiln.hostile;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.ProvisioningException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A root file system tarball with a hard link to a file it does not hold: nothing is below the
 * first layer of an image, so no extractor can create the link ({@code docker load} fails on it).
 * It is refused with the entry named, and nothing is stored; a tar layer higher up may still link
 * to a file of the layers below.
 */
class DanglingHardLinkTest {
  @TempDir Path tmp;

  @Test
  void aRootfsTarballWithAHardLinkToAMissingFileIsRefusedWithTheEntryNamed() throws Exception {
    Path tarball = tarball("rootfs.tar", "etc/os-release", "bin/sh-again", "bin/sh");
    try (Kiln k = Kiln.builder().store(tmp.resolve("store")).build()) {
      assertThatThrownBy(
              () -> k.bake(ImageBuild.from(Base.rootfs(tarball)), "oci:" + tmp.resolve("out")))
          .isInstanceOf(ProvisioningException.class)
          .hasMessageContaining(tarball.toString())
          .hasMessageContaining("hard link 'bin/sh-again' -> 'bin/sh'")
          .hasMessageContaining("not in the layer");
    }
    try (Stream<Path> keys = Files.list(tmp.resolve("store/keys"))) {
      assertThat(keys.toList()).isEmpty();
    }
  }

  @Test
  void theFirstTarLayerOnScratchIsTheLowestToo() throws Exception {
    Path tarball = tarball("layer.tar", "etc/os-release", "usr/lib/link", "usr/lib/libc.so");
    try (Kiln k = Kiln.builder().store(tmp.resolve("store")).build()) {
      assertThatThrownBy(() -> k.bake(ImageBuild.from(Base.scratch()).layer(Layer.tar(tarball))))
          .isInstanceOf(ProvisioningException.class)
          .hasMessageContaining("hard link 'usr/lib/link' -> 'usr/lib/libc.so'");
    }
  }

  @Test
  void aTarLayerAboveARootfsMayLinkToAFileBelow() throws Exception {
    Path rootfs = tarball("rootfs.tar", "usr/lib/libc.so", null, null);
    Path layer = tarball("layer.tar", "etc/other", "usr/lib/libc-again.so", "usr/lib/libc.so");
    try (Kiln k = Kiln.builder().store(tmp.resolve("store")).build()) {
      BakeResult r = k.bake(ImageBuild.from(Base.rootfs(rootfs)).layer(Layer.tar(layer)));
      assertThat(r.layers()).hasSize(2);
    }
  }

  /**
   * A tarball with one file and, unless {@code link} is null, a hard link from {@code link} to
   * {@code target}.
   */
  private Path tarball(String name, String file, String link, String target) throws IOException {
    Path p = tmp.resolve(name);
    try (OutputStream out = Files.newOutputStream(p);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
      byte[] content = "ID=test\n".getBytes(UTF_8);
      TarArchiveEntry f = new TarArchiveEntry(file);
      f.setSize(content.length);
      tar.putArchiveEntry(f);
      tar.write(content);
      tar.closeArchiveEntry();
      if (link != null) {
        TarArchiveEntry l = new TarArchiveEntry(link, TarConstants.LF_LINK);
        l.setLinkName(target);
        tar.putArchiveEntry(l);
        tar.closeArchiveEntry();
      }
    }
    return p;
  }
}
