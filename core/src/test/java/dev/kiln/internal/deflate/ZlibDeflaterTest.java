package dev.kiln.internal.deflate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.Inflater;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Kiln's Java deflate gives exactly standard zlib's bytes: the known vectors at every level, and,
 * where the JDK links standard zlib (as Debian's OpenJDK does), the JDK's bytes over a corpus cut
 * as the gzip stream cuts it (chunks primed with the 32 KiB before them, sync flush, finish), and
 * for output space given a few bytes at a time.
 */
class ZlibDeflaterTest {
  private static final int DICT = 32 * 1024;

  @Test
  void givesTheKnownVectorsOfStandardZlibAtEveryLevel() {
    assertThat(DeflateVectors.deviatingLevels(DeflateEngines.JAVA)).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
  void sameBytesAsTheJdksZlibOverACorpusCutIntoPrimedChunks(int level) throws IOException {
    assumeStandardJdkZlib();
    for (byte[] data : corpus()) {
      for (int chunk : new int[] {16411, 256 * 1024}) {
        byte[] expected =
            chunked(DeflateEngines.JDK.create(level), data, chunk, chunk + (chunk >> 6) + 64);
        byte[] actual =
            chunked(DeflateEngines.JAVA.create(level), data, chunk, chunk + (chunk >> 6) + 64);
        assertThat(actual)
            .as("level %d, %d bytes in chunks of %d", level, data.length, chunk)
            .isEqualTo(expected);
        assertThat(inflate(actual)).isEqualTo(data);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 6, 9})
  void sameBytesAsTheJdksZlibWithOutputSpaceGivenAFewBytesAtATime(int level) throws IOException {
    assumeStandardJdkZlib();
    for (byte[] data : corpus()) {
      byte[] part = Arrays.copyOf(data, Math.min(data.length, 24_000));
      // at least 7: a sync flush that fills the output exactly is followed by another empty stored
      // block (of up to 6 bytes) at the next call, as zlib does, so one byte would never end
      for (int room : new int[] {7, 61, 997}) {
        byte[] expected = chunked(DeflateEngines.JDK.create(level), part, 9_000, room);
        byte[] actual = chunked(DeflateEngines.JAVA.create(level), part, 9_000, room);
        assertThat(actual).as("level %d, output room %d", level, room).isEqualTo(expected);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 6, 9})
  void sameBytesAsTheJdksZlibWhenFinishingIntoOneByteAtATime(int level) throws IOException {
    assumeStandardJdkZlib();
    for (byte[] data : corpus()) {
      byte[] part = Arrays.copyOf(data, Math.min(data.length, 24_000));
      assertThat(once(DeflateEngines.JAVA.create(level), null, part, DeflateEngine.FINISH, 1))
          .isEqualTo(once(DeflateEngines.JDK.create(level), null, part, DeflateEngine.FINISH, 1));
    }
  }

  @Test
  void sameBytesAsTheJdksZlibForEmptyAndTinyInputs() {
    assumeStandardJdkZlib();
    byte[] dict = "a dictionary the input may refer to".getBytes(StandardCharsets.US_ASCII);
    for (int level = 0; level <= 9; level++) {
      for (int len = 0; len <= 4; len++) {
        byte[] in = Arrays.copyOf(dict, len);
        for (boolean withDict : new boolean[] {false, true}) {
          for (int flush : new int[] {DeflateEngine.SYNC_FLUSH, DeflateEngine.FINISH}) {
            assertThat(
                    once(DeflateEngines.JAVA.create(level), withDict ? dict : null, in, flush, 64))
                .as("level %d, %d bytes, dictionary %s, flush %d", level, len, withDict, flush)
                .isEqualTo(
                    once(DeflateEngines.JDK.create(level), withDict ? dict : null, in, flush, 64));
          }
        }
      }
    }
  }

  private static void assumeStandardJdkZlib() {
    assumeTrue(
        DeflateVectors.deviatingLevels(DeflateEngines.JDK).isEmpty(),
        "the JDK here does not link standard zlib");
  }

  /** Random, zeros, text, a mix with runs, and real files of the JDK running the test. */
  private static List<byte[]> corpus() throws IOException {
    List<byte[]> corpus = new ArrayList<>();
    Random r = new Random(42);
    byte[] random = new byte[100_000];
    r.nextBytes(random);
    corpus.add(random);
    corpus.add(new byte[100_000]);
    StringBuilder text = new StringBuilder();
    String[] words = {"usr", "lib", "share", "doc", "kiln", "layer", "the", "of", "\n", "image"};
    while (text.length() < 150_000) {
      text.append(words[r.nextInt(words.length)]).append(r.nextInt(4) == 0 ? "/" : " ");
    }
    corpus.add(text.toString().getBytes(StandardCharsets.US_ASCII));
    ByteArrayOutputStream mix = new ByteArrayOutputStream();
    for (int i = 0; i < 30; i++) {
      byte[] b = new byte[r.nextInt(8_000)];
      if (i % 3 == 0) {
        r.nextBytes(b);
      } else if (i % 3 == 1) {
        Arrays.fill(b, (byte) r.nextInt(256));
      } else {
        for (int j = 0; j < b.length; j++) {
          b[j] = (byte) ('a' + (j * 7 + i) % 13);
        }
      }
      mix.write(b);
    }
    corpus.add(mix.toByteArray());
    Path lib = Path.of(System.getProperty("java.home"), "lib");
    try (Stream<Path> files = Files.list(lib)) {
      for (Path p : files.filter(Files::isRegularFile).sorted().toList()) {
        long size = Files.size(p);
        if (size > 50_000 && size < 400_000 && corpus.size() < 6) {
          corpus.add(Files.readAllBytes(p));
        }
      }
    }
    return corpus;
  }

  /**
   * Deflates {@code data} as ParallelGzipOutputStream does, with {@code room} bytes of output per
   * call.
   */
  static byte[] chunked(DeflateEngine d, byte[] data, int chunk, int room) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[room];
    try {
      for (int off = 0; off == 0 || off < data.length; off += chunk) {
        int len = Math.min(chunk, data.length - off);
        boolean last = off + len >= data.length;
        int dictLen = Math.min(DICT, off);
        if (dictLen > 0) {
          d.setDictionary(data, off - dictLen, dictLen);
        }
        d.setInput(data, off, len);
        if (last) {
          while (!d.finished()) {
            out.write(buf, 0, d.deflate(buf, 0, buf.length, DeflateEngine.FINISH));
          }
        } else {
          int n;
          do {
            n = d.deflate(buf, 0, buf.length, DeflateEngine.SYNC_FLUSH);
            out.write(buf, 0, n);
          } while (n == buf.length);
        }
        d.reset();
        if (last) {
          break;
        }
      }
    } finally {
      d.end();
    }
    return out.toByteArray();
  }

  private static byte[] once(DeflateEngine d, byte[] dict, byte[] in, int flush, int room) {
    try {
      if (dict != null) {
        d.setDictionary(dict, 0, dict.length);
      }
      d.setInput(in, 0, in.length);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buf = new byte[room];
      if (flush == DeflateEngine.FINISH) {
        while (!d.finished()) {
          out.write(buf, 0, d.deflate(buf, 0, buf.length, flush));
        }
      } else {
        int n;
        do {
          n = d.deflate(buf, 0, buf.length, flush);
          out.write(buf, 0, n);
        } while (n == buf.length);
      }
      return out.toByteArray();
    } finally {
      d.end();
    }
  }

  private static byte[] inflate(byte[] raw) {
    Inflater inf = new Inflater(true);
    try {
      inf.setInput(raw);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buf = new byte[65536];
      while (!inf.finished()) {
        int n = inf.inflate(buf);
        if (n == 0 && (inf.needsInput() || inf.needsDictionary())) {
          break;
        }
        out.write(buf, 0, n);
      }
      return out.toByteArray();
    } catch (java.util.zip.DataFormatException e) {
      throw new AssertionError("not a valid deflate stream", e);
    } finally {
      inf.end();
    }
  }
}
