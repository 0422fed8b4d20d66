package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageDefinitionsTest {
  @TempDir Path dir;

  public static final class Two implements ImageDefinition {
    @Override
    public Set<String> names() {
      return Set.of("app", "debug");
    }

    @Override
    public ImageBuild define(DefinitionContext ctx) {
      ImageBuild app = ctx.javaLayers(ImageBuild.from(Base.scratch()), "/app");
      return ctx.name().equals("debug")
          ? app.config(c -> c.env("DEBUG", ctx.parameter("debug", "1")))
          : app;
    }
  }

  public static final class Throws implements ImageDefinition {
    @Override
    public ImageBuild define(DefinitionContext ctx) {
      throw new IllegalStateException("no base\nconfigured");
    }
  }

  public static final class ReturnsNull implements ImageDefinition {
    @Override
    public ImageBuild define(DefinitionContext ctx) {
      return null;
    }
  }

  @Test
  void javaLayersSplitsDependenciesSnapshotsResourcesAndClasses() throws Exception {
    Path classes = Files.createDirectories(dir.resolve("classes/com/example"));
    Files.writeString(classes.resolve("Main.class"), "x");
    Files.writeString(dir.resolve("classes/app.properties"), "a=1");
    Path rel = Files.writeString(dir.resolve("guava-33.jar"), "g");
    Path snap = Files.writeString(dir.resolve("lib-1.0-SNAPSHOT.jar"), "s");
    DefinitionContext ctx =
        DefinitionContext.builder()
            .classesDirectory(dir.resolve("classes"))
            .dependency(rel)
            .dependency(snap)
            .build();

    assertThat(ctx.releaseDependencies()).containsExactly(rel.toAbsolutePath());
    assertThat(ctx.snapshotDependencies()).containsExactly(snap.toAbsolutePath());
    assertThat(ctx.classFiles()).containsOnlyKeys("com/example/Main.class");
    assertThat(ctx.resourceFiles()).containsOnlyKeys("app.properties");
    ImageBuild b = ctx.javaLayers(ImageBuild.from(Base.scratch()), "/app/");
    assertThat(b.layers())
        .extracting(Layer::name)
        .containsExactly("dependencies", "snapshot-dependencies", "resources", "classes");
    FilesLayer cls = (FilesLayer) b.layers().get(3);
    assertThat(cls.entries())
        .extracting(FilesLayer.Entry::target)
        .contains("/app/classes/com/example/Main.class");
    assertThat(ctx.classpath("/app")).isEqualTo("/app/resources:/app/classes:/app/libs/*");
  }

  @Test
  void definesEachNameOrTheOnesAskedFor() throws Exception {
    DefinitionContext ctx = DefinitionContext.builder().parameter("debug", "yes").build();
    Map<String, ImageBuild> all = ImageDefinitions.define(List.of(new Two()), ctx, Set.of());
    assertThat(all).containsOnlyKeys("app", "debug");
    assertThat(all.get("debug").config().env()).containsEntry("DEBUG", "yes");
    assertThat(ImageDefinitions.define(List.of(new Two()), ctx, Set.of("app")))
        .containsOnlyKeys("app");
    assertThatThrownBy(() -> ImageDefinitions.define(List.of(new Two()), ctx, Set.of("prod")))
        .isInstanceOf(DefinitionException.class)
        .hasMessage("no image definition defines 'prod'; defined: app, debug");
  }

  @Test
  void aDefinitionThatThrowsOrReturnsNothingIsNamedInOneLine() {
    DefinitionContext ctx = DefinitionContext.builder().build();
    assertThatThrownBy(() -> ImageDefinitions.define(List.of(new Throws()), ctx, Set.of()))
        .isInstanceOf(DefinitionException.class)
        .hasMessage(
            "image definition "
                + Throws.class.getName()
                + " failed to define 'default': IllegalStateException: no base configured");
    assertThatThrownBy(() -> ImageDefinitions.define(List.of(new ReturnsNull()), ctx, Set.of()))
        .isInstanceOf(DefinitionException.class)
        .hasMessageContaining("returned no build for 'default'");
  }

  @Test
  void loadingNamesWhatIsWrong() throws Exception {
    ClassLoader cl = getClass().getClassLoader();
    assertThat(ImageDefinitions.load(Two.class.getName(), cl)).isInstanceOf(Two.class);
    assertThatThrownBy(() -> ImageDefinitions.load("com.example.Missing", cl))
        .isInstanceOf(DefinitionException.class)
        .hasMessageStartingWith("image definition com.example.Missing not found");
    assertThatThrownBy(() -> ImageDefinitions.load(String.class.getName(), cl))
        .isInstanceOf(DefinitionException.class)
        .hasMessageContaining("does not implement dev.kiln.ImageDefinition");
    assertThatThrownBy(() -> ImageDefinitions.discover(new ClassLoader(null) {}))
        .isInstanceOf(DefinitionException.class)
        .hasMessageStartingWith("no image definition found");
  }
}
