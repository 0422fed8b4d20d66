package dev.kiln.maven.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.BakeException;
import dev.kiln.Base;
import dev.kiln.DefinitionContext;
import dev.kiln.ImageBuild;
import dev.kiln.ImageDefinition;
import dev.kiln.Layer;
import dev.kiln.maven.PluginBake;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What kiln:bake does with bad input: one clear line, a failed build, and nothing baked or written.
 */
class PluginBadInputTest {
  @TempDir Path dir;

  public static final class Good implements ImageDefinition {
    @Override
    public ImageBuild define(DefinitionContext ctx) {
      return ImageBuild.from(Base.scratch())
          .layer(
              Layer.files("hello")
                  .content("/hello.txt", "hello\n".getBytes(StandardCharsets.UTF_8), 0644));
    }
  }

  public static final class Two implements ImageDefinition {
    @Override
    public Set<String> names() {
      return Set.of("a", "b");
    }

    @Override
    public ImageBuild define(DefinitionContext ctx) {
      return new Good().define(ctx).config(c -> c.env("NAME", ctx.name()));
    }
  }

  public static final class Throws implements ImageDefinition {
    @Override
    public ImageBuild define(DefinitionContext ctx) {
      throw new IllegalStateException(
          "the jre parameter is missing:\n  pass -Dkiln.param.jre=FILE");
    }
  }

  public static final class NoPublicConstructor implements ImageDefinition {
    private NoPublicConstructor() {}

    @Override
    public ImageBuild define(DefinitionContext ctx) {
      return null;
    }
  }

  private final List<String> log = new ArrayList<>();

  private PluginBake.Request request(String definition, List<String> targets, Path store) {
    return new PluginBake.Request(
        List.of(),
        definition,
        Set.of(),
        targets,
        store,
        DefinitionContext.builder().projectDirectory(dir).build(),
        dir.resolve("out"));
  }

  private AbstractThrowableAssert<?, ? extends Throwable> fails(PluginBake.Request req) {
    return assertThatThrownBy(() -> PluginBake.run(req, log::add, log::add))
        .isInstanceOf(BakeException.class)
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
  }

  private void nothingWritten(Path store) throws Exception {
    assertThat(dir.resolve("out")).doesNotExist();
    if (Files.isDirectory(store.resolve("blobs/sha256"))) {
      try (Stream<Path> s = Files.list(store.resolve("blobs/sha256"))) {
        assertThat(s).as("blobs in the store").isEmpty();
      }
    }
  }

  @Test
  void aMissingDefinitionClassIsNamed() throws Exception {
    Path store = dir.resolve("store");
    fails(request("com.example.Missing", List.of(), store))
        .hasMessageStartingWith(
            "image definition com.example.Missing not found on the project's class path");
    nothingWritten(store);
  }

  @Test
  void noDefinitionAtAllSaysHowToDeclareOne() throws Exception {
    Path store = dir.resolve("store");
    fails(request(null, List.of(), store))
        .hasMessageStartingWith(
            "no image definition found: implement dev.kiln.ImageDefinition and list the class in "
                + "META-INF/services/dev.kiln.ImageDefinition");
    nothingWritten(store);
  }

  @Test
  void aClassThatIsNotADefinitionOrCannotBeCreatedIsNamed() {
    fails(request(String.class.getName(), List.of(), dir.resolve("store")))
        .hasMessage(
            "image definition java.lang.String does not implement dev.kiln.ImageDefinition");
    fails(request(NoPublicConstructor.class.getName(), List.of(), dir.resolve("store")))
        .hasMessageContaining("needs a public no-argument constructor");
  }

  @Test
  void aDefinitionThatThrowsIsNamedWithItsMessageOnOneLine() throws Exception {
    Path store = dir.resolve("store");
    fails(request(Throws.class.getName(), List.of(), store))
        .hasMessage(
            "image definition "
                + Throws.class.getName()
                + " failed to define 'default': "
                + "IllegalStateException: the jre parameter is missing: pass -Dkiln.param.jre=FILE");
    nothingWritten(store);
  }

  @Test
  void anUnknownTargetFailsBeforeAnythingIsBaked() throws Exception {
    Path store = dir.resolve("store");
    fails(
            request(
                Good.class.getName(),
                List.of("oci-archive:" + dir.resolve("a.tar"), "nope:somewhere"),
                store))
        .hasMessageStartingWith("unknown target scheme 'nope' in 'nope:somewhere'")
        .hasMessageContaining("schemes found:");
    nothingWritten(store);
    assertThat(dir.resolve("a.tar")).doesNotExist();
  }

  @Test
  void aTargetWithoutSchemeIsRefused() throws Exception {
    Path store = dir.resolve("store");
    fails(request(Good.class.getName(), List.of("app.tar"), store))
        .hasMessageStartingWith("invalid target 'app.tar'");
    nothingWritten(store);
  }

  @Test
  void aStoreThatCannotBeOpenedIsNamed() throws Exception {
    Path notADir = Files.writeString(dir.resolve("store-file"), "x");
    fails(request(Good.class.getName(), List.of(), notADir))
        .hasMessageStartingWith("cannot open the Kiln store at " + notADir)
        .hasMessageEndingWith("(set <store> or -Dkiln.store=DIR to a writable directory)");
    assertThat(Files.readString(notADir)).isEqualTo("x");
    assertThat(dir.resolve("out")).doesNotExist();
  }

  @Test
  void severalImagesIntoOneTargetAreRefused() throws Exception {
    Path store = dir.resolve("store");
    fails(request(Two.class.getName(), List.of("oci-archive:" + dir.resolve("x.tar")), store))
        .hasMessageContaining("would receive 2 images (a, b): put {name} in it");
    nothingWritten(store);
  }

  @Test
  void aGoodDefinitionBakesAndWritesItsDigestAndRecord() throws Exception {
    Path store = dir.resolve("store");
    List<PluginBake.Baked> baked =
        PluginBake.run(
            request(
                Two.class.getName(), List.of("oci-archive:" + dir.resolve("{name}.tar")), store),
            log::add,
            log::add);
    assertThat(baked).extracting(PluginBake.Baked::name).containsExactly("a", "b");
    for (PluginBake.Baked b : baked) {
      assertThat(dir.resolve(b.name() + ".tar")).isRegularFile();
      assertThat(Files.readString(dir.resolve("out/" + b.name() + ".digest")).strip())
          .isEqualTo(b.result().digest().toString());
      assertThat(dir.resolve("out/" + b.name() + ".record.json")).isRegularFile();
      assertThat(Files.readString(dir.resolve("out/" + b.name() + ".json")))
          .contains("\"provisioned\"");
    }
  }
}
