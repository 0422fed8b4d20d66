package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.spi.Deflate;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * VMDK grains are deflated by the engine Kiln's layers use ({@link Deflate#standard()}), so a VMDK
 * is the same bytes whatever zlib the JDK links: the JDK's engine and Kiln's Java port of zlib give
 * the same file at every level class, and the Java port's file reads back as the raw disk. (Where
 * the platform's deflater deviates: {@code hostile.NonStandardZlibVmdkTest}.)
 */
class VmdkDeflateEnginesTest {
  private static final int MIB = 1 << 20;

  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(ints = {-1, 1, 4, 9})
  void theJavaEngineWritesTheJdkEnginesBytes(int level) throws Exception {
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), 3 * MIB + 4608, 5);
    VmdkWriter w = VmdkWriter.defaults().threads(2).compressionLevel(level);
    VmdkInfo jdk = w.deflate(Deflate.engine("jdk")).write(raw, dir.resolve("jdk/disk.vmdk"));
    VmdkInfo port = w.deflate(Deflate.engine("java")).write(raw, dir.resolve("java/disk.vmdk"));
    w.write(raw, dir.resolve("standard/disk.vmdk"));

    byte[] expected = Files.readAllBytes(dir.resolve("jdk/disk.vmdk"));
    assertThat(Files.readAllBytes(dir.resolve("java/disk.vmdk"))).isEqualTo(expected);
    assertThat(Files.readAllBytes(dir.resolve("standard/disk.vmdk"))).isEqualTo(expected);
    assertThat(port).isEqualTo(jdk);
    try (StreamOptimizedReader r = new StreamOptimizedReader(dir.resolve("java/disk.vmdk"))) {
      assertThat(r.content()).isEqualTo(Files.readAllBytes(raw));
    }
  }
}
