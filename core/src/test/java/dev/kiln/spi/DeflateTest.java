package dev.kiln.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.internal.deflate.DeflateEngines;
import dev.kiln.testing.DeviatingDeflater;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.zip.Deflater;
import java.util.zip.Inflater;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The SPI's zlib streams: both engines write, at every level, the bytes standard zlib's {@code new
 * Deflater(level)} writes (this machine's JDK links standard zlib 1.2.13), header and Adler-32
 * included; a deviating platform deflater is replaced; bad arguments are refused.
 */
class DeflateTest {
  @ParameterizedTest
  @ValueSource(ints = {-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
  void bothEnginesWriteWhatZlibsDeflaterWrites(int level) throws Exception {
    for (byte[] input : inputs()) {
      byte[] expected = zlib(input, level);
      for (String mode : List.of("jdk", "java")) {
        try (Deflate.Compressor z = Deflate.engine(mode).compressor(level)) {
          byte[] out = new byte[Deflate.maxCompressedLength(input.length) + 7];
          int n = z.compress(input, 0, input.length, out, 7);
          assertThat(Arrays.copyOfRange(out, 7, 7 + n))
              .as("%s engine, level %s, %s bytes", mode, level, input.length)
              .isEqualTo(expected);
          // the compressor is reused: a second buffer is a whole stream of its own
          assertThat(z.compress(input, 0, input.length, out, 0)).isEqualTo(expected.length);
          assertThat(Arrays.copyOf(out, n)).isEqualTo(expected);
        }
      }
    }
  }

  @Test
  void theHeaderNamesTheLevelClassAsZlibDoes() {
    byte[] in = "kiln".getBytes(StandardCharsets.US_ASCII);
    int[][] expected = {
      {-1, 0x9c}, {0, 0x01}, {1, 0x01}, {2, 0x5e}, {5, 0x5e}, {6, 0x9c}, {7, 0xda}
    };
    for (int[] e : expected) {
      try (Deflate.Compressor z = Deflate.engine("java").compressor(e[0])) {
        byte[] out = new byte[64];
        int n = z.compress(in, 0, in.length, out, 0);
        assertThat(out[0] & 0xff).isEqualTo(0x78);
        assertThat(out[1] & 0xff).as("level %s", e[0]).isEqualTo(e[1]);
        assertThat(inflate(out, n, in.length)).isEqualTo(in);
      }
    }
  }

  @Test
  void aStreamThatDoesNotFitIsReportedNotCut() throws Exception {
    byte[] noise = new byte[70_000];
    new Random(3).nextBytes(noise);
    for (String mode : List.of("jdk", "java")) {
      try (Deflate.Compressor z = Deflate.engine(mode).compressor(6)) {
        assertThat(z.compress(noise, 0, noise.length, new byte[noise.length], 0)).isEqualTo(-1);
        assertThat(z.compress(noise, 0, noise.length, new byte[5], 0)).isEqualTo(-1);
        byte[] out = new byte[Deflate.maxCompressedLength(noise.length)];
        int n = z.compress(noise, 0, noise.length, out, 0);
        assertThat(Arrays.copyOf(out, n)).isEqualTo(zlib(noise, 6));
      }
    }
  }

  @Test
  void aDeviatingPlatformDeflaterIsReplaced() throws Exception {
    byte[] input = inputs().get(2);
    byte[] expected = zlib(input, 6);
    try (AutoCloseable p = DeflateEngines.withPlatformDeflater(DeviatingDeflater.FACTORY)) {
      assertThat(compress(Deflate.engine("jdk"), input)).isNotEqualTo(expected);
      assertThat(Deflate.standard().name()).isEqualTo("java");
      assertThat(compress(Deflate.standard(), input)).isEqualTo(expected);
      assertThat(compress(Deflate.engine("auto"), input)).isEqualTo(expected);
    }
  }

  @Test
  void badArgumentsAreRefused() {
    assertThatThrownBy(() -> Deflate.engine("zlib-ng"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("kiln.deflate");
    assertThatThrownBy(() -> Deflate.engine("java").compressor(10))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("0..9 or -1");
    assertThatThrownBy(() -> Deflate.engine("java").compressor(-2))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Deflate.maxCompressedLength(-1))
        .isInstanceOf(IllegalArgumentException.class);
    Deflate.Compressor z = Deflate.engine("jdk").compressor(6);
    byte[] out = new byte[64];
    assertThatThrownBy(() -> z.compress(new byte[4], 2, 3, out, 0))
        .isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> z.compress(new byte[4], 0, 4, out, 65))
        .isInstanceOf(IndexOutOfBoundsException.class);
    z.close();
    z.close(); // twice is harmless
    assertThatThrownBy(() -> z.compress(new byte[4], 0, 4, out, 0))
        .isInstanceOf(IllegalStateException.class);
  }

  private static byte[] compress(Deflate engine, byte[] input) {
    try (Deflate.Compressor z = engine.compressor(6)) {
      byte[] out = new byte[Deflate.maxCompressedLength(input.length)];
      return Arrays.copyOf(out, z.compress(input, 0, input.length, out, 0));
    }
  }

  /** What the JDK's zlib-wrapped Deflater writes: standard zlib's bytes on this machine. */
  private static byte[] zlib(byte[] input, int level) {
    Deflater d = new Deflater(level);
    try {
      d.setInput(input);
      d.finish();
      byte[] out = new byte[Deflate.maxCompressedLength(input.length)];
      int n = 0;
      while (!d.finished()) {
        n += d.deflate(out, n, out.length - n);
      }
      return Arrays.copyOf(out, n);
    } finally {
      d.end();
    }
  }

  private static byte[] inflate(byte[] in, int len, int size) {
    Inflater i = new Inflater();
    try {
      i.setInput(in, 0, len);
      byte[] out = new byte[size];
      int n = i.inflate(out);
      assertThat(i.finished()).isTrue();
      return Arrays.copyOf(out, n);
    } catch (java.util.zip.DataFormatException e) {
      throw new AssertionError(e);
    } finally {
      i.end();
    }
  }

  /** Empty, tiny, text, incompressible, zeros, a grain of mixed content. */
  private static List<byte[]> inputs() {
    Random r = new Random(17);
    StringBuilder sb = new StringBuilder();
    String[] words = {"etc", "usr", "bin", "kiln", "grain", "\n", "vmdk", "a", "the"};
    while (sb.length() < 65_536) {
      sb.append(words[r.nextInt(words.length)]).append(' ');
    }
    byte[] text = Arrays.copyOf(sb.toString().getBytes(StandardCharsets.US_ASCII), 65_536);
    byte[] noise = new byte[65_536];
    r.nextBytes(noise);
    byte[] mixed = new byte[65_536];
    System.arraycopy(text, 0, mixed, 0, 30_000);
    System.arraycopy(noise, 0, mixed, 30_000, 20_000);
    return List.of(new byte[0], new byte[] {42}, text, noise, new byte[65_536], mixed);
  }
}
