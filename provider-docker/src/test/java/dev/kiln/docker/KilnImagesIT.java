package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.testing.Busybox;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.startupcheck.OneShotStartupCheckStrategy;

/** A baked image started with Testcontainers by the name Kiln published it under. */
class KilnImagesIT {
  private static final String IMAGE = "kiln-it/testcontainers:1";

  @AfterAll
  static void cleanUp() {
    DockerTesting.removeImages(IMAGE);
  }

  @Test
  void genericContainerStartsTheBakedImage(@TempDir Path tmp) throws Exception {
    DockerTesting.docker();
    BakeResult r;
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      r =
          kiln.bake(
              ImageBuild.from(Base.rootfs(Busybox.rootfs(tmp)))
                  .layer(Layer.files("msg").content("/msg", "baked by kiln\n".getBytes(), 0644))
                  .config(c -> c.cmd("/bin/cat", "/msg")),
              "docker-daemon:" + IMAGE);
    }
    assertThat(KilnImages.dockerImageName(r)).isEqualTo(IMAGE);
    assertThat(KilnImages.dockerImageId(r)).isEqualTo(r.configDigest().toString());
    try (GenericContainer<?> c =
        new GenericContainer<>(KilnImages.dockerImageName(r))
            .withStartupCheckStrategy(
                new OneShotStartupCheckStrategy().withTimeout(Duration.ofSeconds(30)))) {
      c.start();
      assertThat(c.getLogs()).isEqualTo("baked by kiln\n");
    }
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      BakeResult local =
          kiln.bake(
              ImageBuild.from(Base.scratch())
                  .layer(Layer.files("x").content("/x", new byte[0], 0644)));
      assertThatThrownBy(() -> KilnImages.dockerImageName(local))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("docker-daemon:NAME:TAG");
    }
  }
}
