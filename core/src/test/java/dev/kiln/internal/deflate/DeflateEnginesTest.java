package dev.kiln.internal.deflate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.testing.DeviatingDeflater;
import org.junit.jupiter.api.Test;

/**
 * The choice of engine: the platform's deflater where it gives standard zlib's known vectors,
 * Kiln's Java port where it does not, either when {@code kiln.deflate} forces it, and a clear error
 * for any other value.
 */
class DeflateEnginesTest {
  /** A platform deflater that is standard zlib (the Java port, under another identity). */
  private static final DeflateEngine.Factory STANDARD_PLATFORM =
      new DeflateEngine.Factory() {
        @Override
        public String name() {
          return "standard";
        }

        @Override
        public DeflateEngine create(int level) {
          return new ZlibDeflater(level);
        }
      };

  @Test
  void theCheckFlagsADeviatingDeflater() {
    assertThat(DeflateVectors.deviatingLevels(DeviatingDeflater.FACTORY)).isNotEmpty();
    assertThat(DeflateVectors.deviatingLevels(STANDARD_PLATFORM)).isEmpty();
  }

  @Test
  void autoKeepsAStandardPlatformDeflater() {
    assertThat(DeflateEngines.choose(null, STANDARD_PLATFORM)).isSameAs(STANDARD_PLATFORM);
    assertThat(DeflateEngines.choose("", STANDARD_PLATFORM)).isSameAs(STANDARD_PLATFORM);
    assertThat(DeflateEngines.choose("auto", STANDARD_PLATFORM)).isSameAs(STANDARD_PLATFORM);
  }

  @Test
  void autoReplacesADeviatingPlatformDeflaterByTheJavaPort() {
    assertThat(DeflateEngines.choose("auto", DeviatingDeflater.FACTORY))
        .isSameAs(DeflateEngines.JAVA);
    assertThat(DeflateEngines.choose(null, DeviatingDeflater.FACTORY))
        .isSameAs(DeflateEngines.JAVA);
  }

  @Test
  void thePropertyForcesEitherEngine() {
    assertThat(DeflateEngines.choose("jdk", DeviatingDeflater.FACTORY))
        .isSameAs(DeviatingDeflater.FACTORY);
    assertThat(DeflateEngines.choose(" JAVA ", STANDARD_PLATFORM)).isSameAs(DeflateEngines.JAVA);
  }

  @Test
  void anyOtherValueIsAClearError() {
    assertThatThrownBy(() -> DeflateEngines.choose("zlib-ng", STANDARD_PLATFORM))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("-Dkiln.deflate must be auto, jdk or java, found 'zlib-ng'");
  }

  @Test
  void standardChoosesAgainForAnotherPlatformDeflaterAndBackAfterwards() throws Exception {
    DeflateEngine.Factory before = DeflateEngines.standard();
    try (AutoCloseable ignored = DeflateEngines.withPlatformDeflater(DeviatingDeflater.FACTORY)) {
      assertThat(DeflateEngines.standard()).isSameAs(DeflateEngines.JAVA);
    }
    assertThat(DeflateEngines.standard()).isSameAs(before);
  }
}
