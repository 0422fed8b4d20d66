package dev.kiln.examples.docker;

import dev.kiln.BakeException;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.examples.progress.ConsoleProgress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Bakes a tiny web server image into the Docker daemon: a busybox layer (the host's
 * busybox-static), a {@code run} layer that writes the site inside a container, and a files layer
 * with the page's text; then says how to run it. Needs a Docker daemon ({@code $DOCKER_HOST} or the
 * default socket) and {@code dev.kiln:kiln-provider-docker}. Tests start the image with
 * Testcontainers through {@code KilnImages.dockerImageName(result)}.
 *
 * <p>Usage: {@code DockerHello [NAME:TAG]} (default {@value #IMAGE}).
 */
public final class DockerHello {
  /** Where the example publishes the image. */
  public static final String IMAGE = "kiln-examples/hello:latest";

  private DockerHello() {}

  /** The image: busybox httpd serving /srv/www on port 8080. */
  public static ImageBuild definition(String greeting) {
    return ImageBuild.from(Base.scratch())
        .layer(
            Layer.files("busybox")
                .add(Path.of("/bin/busybox"), "/bin/busybox", 0755)
                .symlink("/bin/sh", "busybox")
                .directory("/tmp", 01777))
        .layer(
            Layer.run(
                "site",
                "/bin/busybox mkdir -p /srv/www",
                "/bin/busybox --install -s /bin",
                "echo '<!doctype html><title>kiln</title><h1 id=greeting></h1>' > /srv/www/index.html"))
        .layer(
            Layer.files("greeting")
                .content(
                    "/srv/www/greeting.txt",
                    (greeting + "\n").getBytes(StandardCharsets.UTF_8),
                    0644))
        .config(
            c ->
                c.cmd("/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/srv/www")
                    .expose(8080)
                    .label("org.opencontainers.image.title", "kiln-docker-hello"));
  }

  /** Bakes the image into the daemon under {@code name}. */
  public static BakeResult bake(Kiln kiln, String name, String greeting) throws BakeException {
    return kiln.bake(definition(greeting), "docker-daemon:" + name);
  }

  public static void main(String[] args) throws Exception {
    String name = args.length > 0 ? args[0] : IMAGE;
    try (Kiln kiln = Kiln.builder().listener(new ConsoleProgress(System.out)).build()) {
      BakeResult r = bake(kiln, name, "Hello from an image baked by Kiln");
      System.out.println();
      System.out.println(
          "image digest: " + r.digest() + " (docker image id " + r.configDigest().shortHex() + ")");
      System.out.println("Next:");
      System.out.println(
          "  docker run --rm -p 8080:8080 "
              + name
              + "   # then open http://localhost:8080/greeting.txt");
    }
  }
}
