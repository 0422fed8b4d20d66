package dev.kiln.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Layer paths: relative, no empty, {@code .} or {@code ..} segments; both the fast path and the
 * rewriting one.
 */
class LayerEntryPathTest {

  @ParameterizedTest
  @CsvSource({
    "a, a",
    "usr/share/doc, usr/share/doc",
    "/usr/share/doc, usr/share/doc",
    "usr//share/, usr/share",
    "./usr/./bin, usr/bin",
    ".hidden/..x/...y, .hidden/..x/...y",
    "/etc/, etc",
  })
  void normalises(String in, String out) {
    assertThat(LayerEntry.normalize(in)).isEqualTo(out);
  }

  @Test
  void anAlreadyNormalPathIsReturnedAsIs() {
    String p = "usr/lib/jvm/release";
    assertThat(LayerEntry.normalize(p)).isSameAs(p);
  }

  @ParameterizedTest
  @ValueSource(strings = {"..", "a/..", "../etc/passwd", "/a/b/../../..", "a/../b"})
  void rejectsEscapes(String in) {
    assertThatThrownBy(() -> LayerEntry.normalize(in))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'..'");
  }

  @ParameterizedTest
  @ValueSource(strings = {"/", ".", "//", "./"})
  void rejectsTheRoot(String in) {
    assertThatThrownBy(() -> LayerEntry.normalize(in))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("image root");
  }
}
