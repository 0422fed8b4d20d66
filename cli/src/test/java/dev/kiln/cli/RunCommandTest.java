package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln run, images and inspect on a definition file, against the same definition baked through the
 * library.
 */
class RunCommandTest {
  /** A definition file: a file of its directory, a parameter, a config. */
  static final String IMAGES =
      """
      import dev.kiln.*;
      import java.nio.charset.StandardCharsets;
      import java.util.Set;

      public class Images implements ImageDefinition {
        public ImageBuild define(DefinitionContext ctx) {
          return ImageBuild.from(Base.scratch())
              .layer(Layer.files("etc").add(ctx.projectDirectory().resolve("motd"), "/etc/motd", 0644))
              .layer(Layer.files("app").content("/app/greeting",
                  ctx.parameter("greeting", "hello").getBytes(StandardCharsets.UTF_8), 0644))
              .config(c -> c.cmd("/bin/cat", "/app/greeting").env("GREETING", ctx.parameter("greeting", "hello")));
        }
      }
      """;

  /** A definition of two images, in a package. */
  static final String SEVERAL =
      """
      package demo.images;

      import dev.kiln.*;
      import java.nio.charset.StandardCharsets;
      import java.util.Set;

      public class Several implements ImageDefinition {
        public Set<String> names() {
          return Set.of("api", "worker");
        }

        public ImageBuild define(DefinitionContext ctx) {
          return ImageBuild.from(Base.scratch())
              .layer(Layer.files(ctx.name()).content("/app/name", ctx.name().getBytes(StandardCharsets.UTF_8), 0644));
        }
      }
      """;

  @TempDir Path dir;

  /** The definition of {@link #IMAGES}, written through the library. */
  static ImageBuild library(Path projectDir, String greeting) {
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("etc").add(projectDir.resolve("motd"), "/etc/motd", 0644))
        .layer(
            Layer.files("app")
                .content("/app/greeting", greeting.getBytes(StandardCharsets.UTF_8), 0644))
        .config(c -> c.cmd("/bin/cat", "/app/greeting").env("GREETING", greeting));
  }

  Path project() throws Exception {
    Path p = Files.createDirectories(dir.resolve("project"));
    Files.writeString(p.resolve("Images.java"), IMAGES);
    Files.writeString(p.resolve("motd"), "welcome\n");
    return p;
  }

  @Test
  void runBakesTheDigestTheLibraryBakesAndPublishes() throws Exception {
    Path p = project();
    Path archive = dir.resolve("out/app.tar");
    CliRun r =
        CliRun.kiln(
            "run",
            p.resolve("Images.java").toString(),
            "-P",
            "greeting=hi",
            "--target",
            "oci-archive:" + archive,
            "--store",
            dir.resolve("store").toString());
    assertThat(r.code()).as(r.toString()).isZero();

    BakeResult lib;
    try (Kiln k = Kiln.builder().store(dir.resolve("library-store")).build()) {
      lib = k.bake(library(p, "hi"));
    }
    assertThat(r.outLines()).containsExactly(lib.digest().toString());
    assertThat(r.err()).as("quiet when not a terminal").isEmpty();
    assertThat(archive).isRegularFile();
    // another parameter is another image
    CliRun other =
        CliRun.kiln(
            "run", p.resolve("Images.java").toString(), "--store", dir.resolve("store").toString());
    try (Kiln k = Kiln.builder().store(dir.resolve("library-store")).build()) {
      assertThat(other.outLines()).containsExactly(k.bake(library(p, "hello")).digest().toString());
    }
  }

  @Test
  void aTerminalSeesProgressAndASecondRunBuildsNothing() throws Exception {
    Path p = project();
    String store = dir.resolve("store").toString();
    CliRun first = CliRun.kiln(true, "run", p.resolve("Images.java").toString(), "--store", store);
    assertThat(first.code()).as(first.toString()).isZero();
    assertThat(first.err()).contains("built   etc").contains("built   app");
    CliRun second = CliRun.kiln(true, "run", p.resolve("Images.java").toString(), "--store", store);
    assertThat(second.out()).isEqualTo(first.out());
    assertThat(second.err())
        .contains("cached  etc")
        .contains("cached  app")
        .doesNotContain("built");
  }

  @Test
  void imagesAndInspectShowWhatTheStoreHolds() throws Exception {
    Path p = project();
    String store = dir.resolve("store").toString();
    String target = "oci:" + dir.resolve("layout") + ":v1";
    String digest =
        CliRun.kiln("run", p.resolve("Images.java").toString(), "-t", target, "--store", store)
            .out()
            .strip();

    CliRun images = CliRun.kiln("images", "--store", store);
    assertThat(images.code()).as(images.toString()).isZero();
    assertThat(images.outLines()).hasSize(2);
    assertThat(images.outLines().get(0))
        .startsWith("DIGEST")
        .contains("NAME", "BAKED", "SIZE", "TARGETS");
    assertThat(images.outLines().get(1))
        .startsWith(digest.substring(7, 19))
        .contains("images")
        .contains(target);
    assertThat(CliRun.kiln("images", "-q", "--store", store).outLines()).containsExactly(digest);

    // by name, by digest prefix and by the target it was published to: the same image
    for (String ref : new String[] {"images", digest.substring(7, 15), digest, target}) {
      CliRun inspect = CliRun.kiln("inspect", ref, "--store", store);
      assertThat(inspect.code()).as(inspect.toString()).isZero();
      assertThat(inspect.outLines().get(0)).isEqualTo("image     " + digest);
      assertThat(inspect.out())
          .contains("etc ")
          .contains("app ")
          .contains("key    sha256:")
          .contains(target);
    }
    JsonNode json =
        new ObjectMapper()
            .readTree(CliRun.kiln("inspect", "images", "--json", "--store", store).out());
    assertThat(json.path("image").asText()).isEqualTo(digest);
    assertThat(json.path("layers")).hasSize(2);
    assertThat(json.path("layers").get(1).path("name").asText()).isEqualTo("app");
    assertThat(json.path("publications").get(0).path("target").asText()).isEqualTo(target);
  }

  @Test
  void aDefinitionOfSeveralImagesBakesEachOrTheOneNamed() throws Exception {
    Path p = Files.createDirectories(dir.resolve("several"));
    Files.writeString(p.resolve("Several.java"), SEVERAL);
    String store = dir.resolve("store").toString();
    CliRun all = CliRun.kiln("run", p.resolve("Several.java").toString(), "--store", store);
    assertThat(all.code()).as(all.toString()).isZero();
    assertThat(all.outLines()).hasSize(2);
    assertThat(all.outLines().get(0)).endsWith(" api");
    assertThat(all.outLines().get(1)).endsWith(" worker");

    Path archive = dir.resolve("worker.tar");
    CliRun one =
        CliRun.kiln(
            "run",
            p.resolve("Several.java").toString(),
            "--name",
            "worker",
            "-t",
            "oci-archive:" + archive,
            "--store",
            store);
    assertThat(one.code()).as(one.toString()).isZero();
    assertThat(one.outLines()).containsExactly(all.outLines().get(1).split(" ")[0]);
    assertThat(archive).isRegularFile();
    assertThat(CliRun.kiln("inspect", "worker", "--store", store).outLines().get(0))
        .endsWith(one.out().strip());
  }

  @Test
  void everyCommandHasHelp() {
    for (String cmd : new String[] {"run", "images", "inspect", "copy", "verify"}) {
      CliRun h = CliRun.kiln(cmd, "--help");
      assertThat(h.code()).as(h.toString()).isZero();
      assertThat(h.out()).contains("Usage: kiln " + cmd).contains("--store=DIR");
    }
    CliRun top = CliRun.kiln("--help");
    assertThat(top.code()).isZero();
    assertThat(top.out()).contains("run", "images", "inspect", "copy", "verify", "Exit codes:");
    assertThat(CliRun.kiln("run", "--help").out())
        .contains("--sbom[=FORMATS]", "--provenance", "--sign-key=FILE", "--sign-cert=FILE");
    assertThat(CliRun.kiln("verify", "--help").out()).contains("--key=FILE");
  }
}
