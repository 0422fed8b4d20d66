package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A closed Kiln says so; {@link Kiln#defaults()} opens a new instance once the old one is closed;
 * where the default store is.
 */
class KilnLifecycleTest {
  @TempDir Path tmp;
  String savedStore;

  @BeforeEach
  void useATempStore() {
    savedStore = System.getProperty("kiln.store");
    System.setProperty("kiln.store", tmp.resolve("default-store").toString());
  }

  @AfterEach
  void restore() throws Exception {
    Kiln.defaults().close();
    if (savedStore == null) {
      System.clearProperty("kiln.store");
    } else {
      System.setProperty("kiln.store", savedStore);
    }
  }

  private static ImageBuild tiny(String text) {
    return ImageBuild.from(Base.scratch())
        .layer(
            Layer.files("greeting")
                .content("/greeting", text.getBytes(StandardCharsets.UTF_8), 0644));
  }

  @Test
  void defaultsAfterCloseIsANewOpenInstanceAndImageBuildBakeWorks() throws Exception {
    Kiln first = Kiln.defaults();
    first.close();

    Kiln second = Kiln.defaults();
    assertThat(second).isNotSameAs(first);
    assertThat(second.isClosed()).isFalse();
    assertThat(Kiln.defaults()).isSameAs(second);

    BakeResult r = tiny("hello\n").bake("oci:" + tmp.resolve("layout") + ":v1");
    assertThat(r.provisioned()).containsExactly("greeting");
    assertThat(tmp.resolve("layout/index.json")).exists();
    assertThat(second.store()).isEqualTo(tmp.resolve("default-store").toAbsolutePath().normalize());
  }

  @Test
  void everyBakeOfAClosedKilnFailsClearlyAndCloseTwiceIsHarmless() throws Exception {
    Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build();
    kiln.bake(tiny("one\n"));
    kiln.close();
    kiln.close();
    assertThat(kiln.isClosed()).isTrue();

    ImageBuild b = tiny("two\n");
    List<org.assertj.core.api.ThrowableAssert.ThrowingCallable> uses =
        List.of(
            () -> kiln.bake(b),
            () -> kiln.bake(b, "oci:" + tmp.resolve("out")),
            () -> kiln.bake(b, Target.parse("oci:" + tmp.resolve("out"))),
            () -> kiln.bakeAll(b),
            () -> kiln.bakeAll(Map.of(b, List.of("oci:" + tmp.resolve("out")))),
            // checked before the target is parsed: the closed instance is the first thing wrong
            () -> kiln.bake(b, "no-scheme"));
    for (var use : uses) {
      assertThatThrownBy(use)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("this Kiln is closed");
    }
    assertThat(tmp.resolve("out")).doesNotExist();
  }

  @Test
  void storeLocationPropertyThenEnvironmentThenXdgThenHome() {
    Map<String, String> props = new java.util.HashMap<>(Map.of("user.home", "/home/u"));
    Map<String, String> env = new java.util.HashMap<>();
    assertThat(KilnEnvironment.defaultStorePath(props::get, env::get))
        .isEqualTo(Path.of("/home/u/.cache/kiln"));
    env.put("XDG_CACHE_HOME", "/xdg");
    assertThat(KilnEnvironment.defaultStorePath(props::get, env::get))
        .isEqualTo(Path.of("/xdg/kiln"));
    env.put("KILN_STORE", "/from-env");
    assertThat(KilnEnvironment.defaultStorePath(props::get, env::get))
        .isEqualTo(Path.of("/from-env"));
    props.put("kiln.store", "/from-property");
    assertThat(KilnEnvironment.defaultStorePath(props::get, env::get))
        .isEqualTo(Path.of("/from-property"));
    props.put("kiln.store", "");
    assertThat(KilnEnvironment.defaultStorePath(props::get, env::get))
        .isEqualTo(Path.of("/from-env"));
    // the real JVM: -Dkiln.store (set by this test) wins over whatever $KILN_STORE says
    assertThat(Kiln.defaultStorePath()).isEqualTo(tmp.resolve("default-store"));
  }
}
