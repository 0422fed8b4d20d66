package dev.kiln.examples.quickstart;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.examples.progress.ConsoleProgress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Bakes a small app image onto an empty base — a files layer with the app, a config layer with its
 * greeting — into the default local store, an OCI archive and a docker-archive, then says what to
 * run next. No daemon needed to bake, nothing to install: the app is a static x86-64 Linux
 * executable of a few hundred bytes that this class writes itself ({@link HelloElf}), which prints
 * the greeting. So {@code docker run} of the loaded archive prints it on any amd64 Docker host, and
 * the image digest is the same on every machine.
 *
 * <p>Usage: {@code Quickstart [OUTPUT_DIR [IMAGE_NAME]]} (default {@code build/quickstart} and
 * {@code kiln/quickstart:latest}).
 */
public final class Quickstart {
  static final String GREETING = "Hello from an image baked by Kiln\n";

  public static void main(String[] args) throws Exception {
    Path out = Path.of(args.length > 0 ? args[0] : "build/quickstart").toAbsolutePath();
    String image = args.length > 1 ? args[1] : "kiln/quickstart:latest";
    Path src = writeApp(out.resolve("src"));

    ImageBuild app =
        ImageBuild.from(Base.scratch())
            .layer(
                Layer.files("app")
                    .add(src.resolve("app"), "/opt/hello")
                    .add(src.resolve("hello"), "/usr/local/bin/hello", 0755))
            .layer(
                Layer.files("config")
                    .content(
                        "/etc/hello/greeting", GREETING.getBytes(StandardCharsets.UTF_8), 0644))
            .config(
                c ->
                    c.entrypoint("/usr/local/bin/hello")
                        .label("org.opencontainers.image.title", "kiln-quickstart"));

    Path archive = out.resolve("quickstart.oci.tar");
    Path dockerArchive = out.resolve("quickstart.docker.tar");
    System.out.println("Baking " + app + " (store: " + Kiln.defaultStorePath() + ")");
    try (Kiln kiln = Kiln.builder().listener(new ConsoleProgress(System.out)).build()) {
      BakeResult r =
          kiln.bake(
              app,
              "oci-archive:" + archive + ":latest",
              "docker-archive:" + dockerArchive + ":" + image);
      System.out.println();
      System.out.println("image digest: " + r.digest());
      System.out.println(
          "layers:       "
              + r.layers().size()
              + " ("
              + r.provisioned().size()
              + " built, "
              + (r.layers().size() - r.provisioned().size())
              + " from cache)");
      System.out.println("record:       " + r.record());
      System.out.println();
      System.out.println(
          "Next: inspect it, or run it on any amd64 Docker host (it prints its greeting):");
      System.out.println("  skopeo inspect " + shellQuoted("oci-archive:" + archive + ":latest"));
      System.out.println(
          "  skopeo inspect " + shellQuoted("oci:" + kiln.store() + ":" + r.digest().hex()));
      System.out.println("  docker load -i " + shellQuoted(dockerArchive.toString()));
      System.out.println("  docker run --rm " + image);
    }
  }

  /** The word as a POSIX shell reads it back: as is when it is plain, else in single quotes. */
  static String shellQuoted(String word) {
    return word.matches("[A-Za-z0-9_./:@%+=,-]+") ? word : "'" + word.replace("'", "'\\''") + "'";
  }

  private static Path writeApp(Path dir) throws IOException {
    Files.createDirectories(dir.resolve("app"));
    Files.writeString(
        dir.resolve("app/README"),
        "The quickstart app: /usr/local/bin/hello prints /etc/hello/greeting.\n");
    Files.write(dir.resolve("hello"), HelloElf.x8664("/etc/hello/greeting"));
    return dir;
  }
}
