package dev.kiln.examples.docker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Kiln;
import dev.kiln.docker.KilnImages;
import dev.kiln.testing.Tools;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;

/** The example's image, started with Testcontainers from the name Kiln published it under. */
class DockerHelloIT {
  private static final String IMAGE = "kiln-examples/hello:it";

  @AfterAll
  static void removeImage() {
    Tools.removeImagesAndParents(IMAGE);
  }

  @Test
  void bakedImageServesItsPageInATestcontainer(@TempDir Path tmp) throws Exception {
    Tools.requireDocker();
    BakeResult r;
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      r = DockerHello.bake(kiln, IMAGE, "hello, testcontainers");
    }
    assertThat(KilnImages.dockerImageName(r)).isEqualTo(IMAGE);
    try (GenericContainer<?> web =
        new GenericContainer<>(KilnImages.dockerImageName(r))
            .withExposedPorts(8080)
            .waitingFor(Wait.forHttp("/greeting.txt").forStatusCode(200))) {
      web.start();
      URI uri =
          URI.create("http://" + web.getHost() + ":" + web.getMappedPort(8080) + "/greeting.txt");
      HttpResponse<String> page =
          HttpClient.newHttpClient()
              .send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(page.body()).isEqualTo("hello, testcontainers\n");
    }
  }
}
