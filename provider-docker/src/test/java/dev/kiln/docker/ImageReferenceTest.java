package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Digest;
import dev.kiln.InvalidTargetException;
import org.junit.jupiter.api.Test;

class ImageReferenceTest {
  private static final String HEX = "a".repeat(64);

  @Test
  void parsesHostPortRepositoryTagAndDigest() {
    ImageReference r = ImageReference.parse("docker://127.0.0.1:5000/team/app:1.4");
    assertThat(r.registry()).isEqualTo("127.0.0.1:5000");
    assertThat(r.repository()).isEqualTo("team/app");
    assertThat(r.tag()).isEqualTo("1.4");
    assertThat(r.isLoopback()).isTrue();
    ImageReference d = ImageReference.parse("registry.example/app@sha256:" + HEX);
    assertThat(d.digest()).isEqualTo(new Digest(HEX));
    assertThat(d.manifestReference()).isEqualTo("sha256:" + HEX);
    assertThat(d.isLoopback()).isFalse();
    assertThat(ImageReference.parse("localhost/app").tagOrLatest()).isEqualTo("latest");
  }

  @Test
  void shortNamesAreDockerHub() {
    ImageReference r = ImageReference.parse("debian:12");
    assertThat(r.registry()).isEqualTo("docker.io");
    assertThat(r.repository()).isEqualTo("library/debian");
    assertThat(r.apiHost()).isEqualTo("registry-1.docker.io");
    assertThat(ImageReference.parse("bitnami/nginx").repository()).isEqualTo("bitnami/nginx");
  }

  @Test
  void rejectsBadReferences() {
    assertThatThrownBy(() -> ImageReference.parse("docker://host.example/UPPER:1"))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining("lowercase");
    assertThatThrownBy(() -> ImageReference.parse("host.example/app@sha256:xyz"))
        .isInstanceOf(InvalidTargetException.class);
    assertThatThrownBy(() -> ImageReference.parse("")).isInstanceOf(InvalidTargetException.class);
  }

  @Test
  void registryTargetsDefaultToHttpOnlyOnLoopback() {
    assertThat(RegistryTarget.of("127.0.0.1:5000/app:1").plainHttp()).isTrue();
    assertThat(RegistryTarget.of("registry.example/app:1").plainHttp()).isFalse();
    assertThat(RegistryTarget.of("registry.example/app:1").insecure().plainHttp()).isTrue();
    assertThat(RegistryTarget.of("localhost:5000/app:1").tls().plainHttp()).isFalse();
    RegistryTarget parsed =
        RegistryTarget.parse(
            dev.kiln.Target.parse("docker://registry.example/app:1?insecure=true"));
    assertThat(parsed.plainHttp()).isTrue();
    assertThat(RegistryTarget.of("registry.example/app:1").credentials("me", "secret").toString())
        .doesNotContain("secret");
    assertThatThrownBy(
            () ->
                RegistryTarget.parse(
                    dev.kiln.Target.parse("docker://registry.example/app:1?bogus=1")))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining("bogus");
  }

  @Test
  void daemonTargetsNeedNameAndTag() {
    assertThat(
            new DockerDaemonStore(dev.kiln.Target.parse("docker-daemon:localhost:5000/app:1"))
                .reference())
        .isEqualTo("localhost:5000/app:1");
    assertThatThrownBy(() -> new DockerDaemonStore(dev.kiln.Target.parse("docker-daemon:app")))
        .isInstanceOf(InvalidTargetException.class);
    assertThatThrownBy(() -> new DockerDaemonStore(dev.kiln.Target.parse("docker-daemon:App:1")))
        .isInstanceOf(InvalidTargetException.class);
    assertThatThrownBy(
            () -> new DockerDaemonStore(dev.kiln.Target.parse("docker-daemon:localhost:5000/app")))
        .isInstanceOf(InvalidTargetException.class);
  }
}
