package dev.kiln.vmware.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.internal.deflate.DeflateEngines;
import dev.kiln.spi.Deflate;
import dev.kiln.testing.DeviatingDeflater;
import dev.kiln.vmware.VmdkWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A machine whose JDK links a zlib that is not standard zlib (zlib-ng, a patched fork), stood for
 * by the JDK's deflater at the FILTERED strategy: a VMDK written there is the same bytes as on a
 * standard machine, because its grains are deflated by the engine Kiln's layers use, which sees the
 * deviation and uses Kiln's Java port of zlib instead; forcing the platform's deflater ({@code
 * -Dkiln.deflate=jdk}) does change the file, so the grains really go through that engine.
 */
class NonStandardZlibVmdkTest {
  @TempDir Path dir;

  @Test
  void aDeviatingPlatformDeflaterDoesNotChangeTheVmdk() throws Exception {
    Path raw = rawDisk(dir.resolve("disk.raw"));
    String standard = write(raw, "standard");

    try (AutoCloseable platform = DeflateEngines.withPlatformDeflater(DeviatingDeflater.FACTORY)) {
      assertThat(Deflate.standard().name()).isEqualTo("java");
      assertThat(write(raw, "deviating-platform")).isEqualTo(standard);
    }
  }

  @Test
  void theVmdkFollowsTheEngineThePropertyForces() throws Exception {
    Path raw = rawDisk(dir.resolve("disk.raw"));
    String standard = write(raw, "standard");

    String before = System.getProperty(Deflate.PROPERTY);
    System.setProperty(Deflate.PROPERTY, "jdk");
    try (AutoCloseable platform = DeflateEngines.withPlatformDeflater(DeviatingDeflater.FACTORY)) {
      assertThat(Deflate.standard().name()).isEqualTo("deviating");
      assertThat(write(raw, "forced")).isNotEqualTo(standard);
    } finally {
      if (before == null) {
        System.clearProperty(Deflate.PROPERTY);
      } else {
        System.setProperty(Deflate.PROPERTY, before);
      }
    }
  }

  /** The SHA-256 of the VMDK written of {@code raw}. */
  private String write(Path raw, String name) throws Exception {
    Path vmdk = dir.resolve(name).resolve("disk.vmdk");
    VmdkWriter.defaults().threads(2).write(raw, vmdk);
    MessageDigest d = MessageDigest.getInstance("SHA-256");
    return HexFormat.of().formatHex(d.digest(Files.readAllBytes(vmdk)));
  }

  /** 2 MiB: text in the first grains (where FILTERED's matches differ), noise, then zeros. */
  private static Path rawDisk(Path file) throws IOException {
    Random r = new Random(11);
    StringBuilder sb = new StringBuilder();
    String[] words = {"etc", "usr", "bin", "kiln", "grain", "\n", "vmdk", "a", "the"};
    while (sb.length() < 600_000) {
      sb.append(words[r.nextInt(words.length)]).append(' ');
    }
    byte[] disk = new byte[2 << 20];
    byte[] text = sb.toString().getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(text, 0, disk, 0, text.length);
    byte[] noise = new byte[100_000];
    r.nextBytes(noise);
    System.arraycopy(noise, 0, disk, text.length, noise.length);
    Files.write(file, disk);
    return file;
  }
}
