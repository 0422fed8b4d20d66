package dev.kiln.hostile;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.internal.deflate.DeflateEngines;
import dev.kiln.testing.DeviatingDeflater;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A machine whose JDK links a non-standard zlib (zlib-ng, a patched fork) must bake the same blobs
 * and the same image digest as any other: with a deviating deflater standing for the JDK's, a bake
 * into a fresh store gives the layers, blob digests and image digest of the standard bake.
 */
class NonStandardZlibBakeTest {
  @TempDir Path tmp;

  @Test
  void aBakeWithADeviatingPlatformDeflaterGivesTheStandardDigests() throws Exception {
    Path tree = Files.createDirectories(tmp.resolve("src/app"));
    Random r = new Random(11);
    StringBuilder text = new StringBuilder();
    while (text.length() < 600_000) {
      text.append("line ").append(r.nextInt(1000)).append(" of the kiln app log\n");
    }
    Files.writeString(tree.resolve("app.log"), text, UTF_8);
    byte[] noise = new byte[300_000];
    r.nextBytes(noise);
    Files.write(tree.resolve("app.bin"), noise);
    Files.write(tree.resolve("zeros"), new byte[200_000]);
    ImageBuild build =
        ImageBuild.from(Base.scratch())
            .layer(Layer.files("app").addTree(tree, "/opt/app"))
            .layer(
                Layer.files("config").content("/etc/app.conf", "mode=on\n".getBytes(UTF_8), 0644))
            .config(c -> c.entrypoint("/opt/app/app.bin"));

    BakeResult standard;
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("standard-store")).build()) {
      standard = kiln.bake(build);
    }
    BakeResult deviating;
    try (AutoCloseable platform = DeflateEngines.withPlatformDeflater(DeviatingDeflater.FACTORY);
        Kiln kiln = Kiln.builder().store(tmp.resolve("deviating-store")).build()) {
      assertThat(DeflateEngines.standard()).isSameAs(DeflateEngines.JAVA);
      deviating = kiln.bake(build);
    }

    assertThat(deviating.provisioned()).containsExactlyElementsOf(standard.provisioned());
    assertThat(deviating.provisioned()).hasSize(2);
    assertThat(deviating.layers().stream().map(LayerRecord::digest))
        .containsExactlyElementsOf(standard.layers().stream().map(LayerRecord::digest).toList());
    assertThat(deviating.diffIds()).isEqualTo(standard.diffIds());
    assertThat(deviating.digest()).isEqualTo(standard.digest());
  }
}
