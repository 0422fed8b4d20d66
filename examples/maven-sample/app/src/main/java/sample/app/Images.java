package sample.app;

import dev.kiln.Base;
import dev.kiln.DefinitionContext;
import dev.kiln.ImageBuild;
import dev.kiln.ImageDefinition;
import java.nio.file.Path;

/**
 * The app's image: the JRE base, then the release dependencies, the snapshot dependencies, the resources and the
 * classes, each a layer of its own, so that a change to one class re-bakes only the classes layer.
 */
public final class Images implements ImageDefinition {
  @Override
  public ImageBuild define(DefinitionContext ctx) {
    String jre = ctx.parameter("jre", "");
    if (jre.isBlank()) {
      throw new IllegalArgumentException("no JRE: pass -Dkiln.sample.jre=$(scripts/docker/jre-rootfs.sh)");
    }
    return ctx.javaLayers(ImageBuild.from(Base.rootfs(Path.of(jre))), "/app")
        .config(c -> c.entrypoint("java", "-cp", ctx.classpath("/app"), "sample.app.Main")
            .env("WHO", "Kiln")
            .label("org.opencontainers.image.version", ctx.version().orElse("unknown")));
  }
}
