package dev.kiln.internal.tar;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.internal.deflate.DeflateEngine;
import dev.kiln.internal.deflate.DeflateEngines;
import dev.kiln.testing.DeviatingDeflater;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Where the platform's deflater is not standard zlib, the gzip stream still emits standard zlib's
 * bytes: the deviating deflater alone would give other bytes (another blob digest), the engine
 * chosen for it gives the bytes of the standard run, as does the Java port forced.
 */
class DeviatingDeflateStreamTest {
  private static final int CHUNK = 64 * 1024;
  private static ExecutorService pool;

  @BeforeAll
  static void start() {
    pool = TarTestSupport.pool(2);
  }

  @AfterAll
  static void stop() {
    pool.shutdownNow();
  }

  @Test
  void aDeviatingPlatformDeflaterIsReplacedAndTheBytesAreTheStandardOnes() throws IOException {
    byte[] input = input();
    byte[] standard = gzip(input, DeflateEngines.standard());
    assertThat(gzip(input, DeviatingDeflater.FACTORY)).isNotEqualTo(standard);
    assertThat(gzip(input, DeflateEngines.choose("auto", DeviatingDeflater.FACTORY)))
        .isEqualTo(standard);
    assertThat(gzip(input, DeflateEngines.JAVA)).isEqualTo(standard);
  }

  private static byte[] gzip(byte[] input, DeflateEngine.Factory engines) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ParallelGzipOutputStream gz =
        new ParallelGzipOutputStream(out, pool, 6, 2, CHUNK, engines)) {
      gz.write(input);
    }
    return out.toByteArray();
  }

  private static byte[] input() {
    Random r = new Random(7);
    StringBuilder sb = new StringBuilder();
    String[] words = {"etc", "usr", "bin", "kiln", "layer", "\n", "config", "a", "the"};
    while (sb.length() < 300_000) {
      sb.append(words[r.nextInt(words.length)]).append(' ');
    }
    byte[] text = sb.toString().getBytes(StandardCharsets.US_ASCII);
    byte[] noise = new byte[100_000];
    r.nextBytes(noise);
    byte[] all = new byte[text.length + noise.length + 50_000];
    System.arraycopy(text, 0, all, 0, text.length);
    System.arraycopy(noise, 0, all, text.length, noise.length);
    return all;
  }
}
