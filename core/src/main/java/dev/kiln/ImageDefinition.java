package dev.kiln;

import java.util.Set;

/**
 * An image definition a build tool or the {@code kiln} command line finds and bakes: the Java DSL,
 * written once, given the project's artifacts by a {@link DefinitionContext}. The Maven plugin
 * finds implementations through {@code META-INF/services/dev.kiln.ImageDefinition} on the project's
 * class path (or by the class named in its configuration); an implementation needs a public
 * no-argument constructor.
 *
 * <pre>{@code
 * public final class Images implements ImageDefinition {
 *   public ImageBuild define(DefinitionContext ctx) {
 *     return ctx.javaLayers(ImageBuild.from(Base.rootfs(Path.of("jre.tar"))), "/app")
 *         .config(c -> c.entrypoint("java", "-cp", ctx.classpath("/app"), "com.example.Main"));
 *   }
 * }
 * }</pre>
 *
 * <p>One class may define several images: {@link #names()} lists them and {@link #define} returns
 * the one {@link DefinitionContext#name()} asks for. Builds that share a prefix share its layers,
 * as with {@link Kiln#bakeAll}.
 */
public interface ImageDefinition {

  /** The name of the one image of a definition that does not override {@link #names()}. */
  String DEFAULT_NAME = "default";

  /**
   * The names of the images this definition defines; {@link #DEFAULT_NAME} alone unless overridden.
   */
  default Set<String> names() {
    return Set.of(DEFAULT_NAME);
  }

  /**
   * The image named {@link DefinitionContext#name()}, built from the context's artifacts. Like
   * every {@link ImageBuild}, a value: reading files belongs to the bake, not here (but a
   * definition may read a small file of the project to decide what to build). Anything it throws
   * fails the bake with the definition named.
   */
  ImageBuild define(DefinitionContext ctx) throws Exception;
}
