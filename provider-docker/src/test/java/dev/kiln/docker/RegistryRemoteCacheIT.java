package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Digest;
import dev.kiln.spi.RemoteCache;
import dev.kiln.testing.RemoteCacheContract;
import dev.kiln.testing.RemoteCacheFleetContract;
import dev.kiln.testing.RemoteCacheRetentionContract;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code docker://} remote cache against Debian's docker-registry on loopback. */
class RegistryRemoteCacheIT {
  private static final AtomicInteger REPOS = new AtomicInteger();
  @TempDir static Path shared;
  static LocalRegistry registry;

  @BeforeAll
  static void start() throws Exception {
    registry = LocalRegistry.start(shared.resolve("registry"));
  }

  @AfterAll
  static void stop() {
    if (registry != null) {
      registry.close();
    }
    DockerTesting.removeParentImages();
  }

  static String freshUri() {
    return "docker://" + registry.host() + "/kiln-cache/c" + REPOS.incrementAndGet();
  }

  @Nested
  class Contract extends RemoteCacheContract {
    @Override
    protected RemoteCache cache() {
      return RegistryRemoteCache.of(URI.create(freshUri()));
    }
  }

  @Nested
  class Fleet extends RemoteCacheFleetContract {
    private LocalRegistry own;

    @Override
    protected String freshRemote() {
      return freshUri();
    }

    @Override
    protected String remoteAt(int port) {
      return "docker://127.0.0.1:" + port + "/kiln-cache/silent";
    }

    @Override
    protected String stoppableRemote() throws Exception {
      own = LocalRegistry.start(tmp.resolve("own-registry"));
      return "docker://" + own.host() + "/kiln-cache/own";
    }

    @Override
    protected void stopServer() {
      own.close();
    }

    @AfterEach
    void closeOwn() {
      if (own != null) {
        own.close();
      }
    }
  }

  @Nested
  class Retention extends RemoteCacheRetentionContract {
    @Override
    protected String freshRemote() {
      return freshUri();
    }

    @Override
    protected boolean blobsGoWithEntries() {
      return false;
    }
  }

  @Test
  void entriesAreArtifactManifestsThatReferenceTheirBlob() throws Exception {
    RegistryRemoteCache c = RegistryRemoteCache.of(URI.create(freshUri()));
    byte[] blob = "layer bytes".getBytes(StandardCharsets.UTF_8);
    Path f = shared.resolve("blob");
    Files.write(f, blob);
    Digest d = Digest.of(blob);
    c.pushBlob(d, blob.length, "application/vnd.oci.image.layer.v1.tar+gzip", f, n -> {});
    String key = "c".repeat(64);
    c.putEntry(
        "keys",
        key,
        "{\"a\":1}".getBytes(StandardCharsets.UTF_8),
        Optional.of(
            new RemoteCache.BlobRef(
                d, blob.length, "application/vnd.oci.image.layer.v1.tar+gzip")));
    RegistryClient client =
        Registries.client(ImageReference.parse(registry.host() + "/x"), true, null);
    String repo = c.describe().substring(c.describe().indexOf('/', "docker://".length()) + 1);
    RegistryClient.Manifest m = client.manifest(repo, "kiln-keys-" + key);
    JsonNode n = new ObjectMapper().readTree(m.bytes());
    assertThat(n.path("artifactType").asText()).isEqualTo(RegistryRemoteCache.ARTIFACT_TYPE);
    assertThat(n.path("layers").get(0).path("digest").asText()).isEqualTo(d.toString());
    assertThat(n.path("annotations").path("dev.kiln.cache.entry").asText()).isEqualTo("{\"a\":1}");
    // skopeo, a client of its own, reads the entry as an ordinary OCI manifest
    String skopeo = dev.kiln.testing.Tools.require("skopeo", "skopeo");
    String raw =
        dev.kiln.testing.Tools.run(
                skopeo,
                "inspect",
                "--raw",
                "--tls-verify=false",
                "docker://" + registry.host() + "/" + repo + ":kiln-keys-" + key)
            .ok()
            .output();
    assertThat(new ObjectMapper().readTree(raw).path("layers").get(0).path("digest").asText())
        .isEqualTo(d.toString());
  }

  @Test
  void badUrisAreRejectedWithTheExpectedForm() {
    assertThatThrownBy(
            () -> RegistryRemoteCache.of(URI.create("docker://127.0.0.1:5000/cache:tag")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("name a repository");
    assertThatThrownBy(
            () -> RegistryRemoteCache.of(URI.create("docker://127.0.0.1:5000/cache?colour=red")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown option 'colour'");
    assertThat(RegistryRemoteCache.of(URI.create("docker://127.0.0.1:5000/team/cache")).describe())
        .isEqualTo("docker://127.0.0.1:5000/team/cache");
  }
}
