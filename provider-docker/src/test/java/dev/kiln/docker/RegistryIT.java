package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.ImageStoreException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import dev.kiln.testing.Busybox;
import dev.kiln.testing.Tools;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Done-when 4 and registry bases: pushes to, and pulls from, Debian's docker-registry on loopback.
 */
class RegistryIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path shared;
  static LocalRegistry registry;
  static Path rootfs;
  static Kiln kiln;

  @BeforeAll
  static void setUp() throws Exception {
    Tools.require("skopeo", "skopeo");
    registry = LocalRegistry.start(shared.resolve("registry"));
    rootfs = Busybox.rootfs(shared);
    kiln = Kiln.builder().store(shared.resolve("store")).build();
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (kiln != null) {
      kiln.close();
    }
    if (registry != null) {
      registry.close();
    }
    DockerTesting.removeImages("kiln-it/from-registry:1");
    DockerTesting.removeParentImages();
  }

  static ImageBuild app(String version) {
    return ImageBuild.from(Base.rootfs(rootfs))
        .layer(Layer.files("app").content("/app/version", version.getBytes(), 0644))
        .config(c -> c.cmd("/bin/cat", "/app/version"));
  }

  static JsonNode skopeoInspect(String ref, String... extra) throws Exception {
    String skopeo = Tools.require("skopeo", "skopeo");
    java.util.List<String> cmd =
        new java.util.ArrayList<>(java.util.List.of(skopeo, "inspect", "--tls-verify=false"));
    cmd.addAll(java.util.List.of(extra));
    cmd.add("docker://" + ref);
    return JSON.readTree(Tools.run(cmd).ok().output());
  }

  static long bytes(PublishedImage p) {
    return Long.parseLong(p.details().get("bytesUploaded"));
  }

  @Test
  void pushShowsKilnsDigestAndPushingAgainUploadsNothing() throws Exception {
    String target = "docker://" + registry.host() + "/kiln/app:1";
    BakeResult r = kiln.bake(app("1"), target);
    PublishedImage p = r.published().get(target);
    assertThat(p.digest()).isEqualTo(r.digest());
    assertThat(p.reused()).isFalse();
    long expected = r.layers().stream().mapToLong(LayerRecord::size).sum() + kilnConfigSize(r);
    // the busybox layer may already be in another repository (other tests push it too): then it is
    // mounted
    long mounted = p.details().get("blobsMounted").equals("1") ? r.layers().get(0).size() : 0;
    assertThat(bytes(p) + mounted).isEqualTo(expected);

    JsonNode inspect = skopeoInspect(registry.host() + "/kiln/app:1");
    assertThat(inspect.path("Digest").asText()).isEqualTo(r.digest().toString());
    assertThat(inspect.path("Layers"))
        .extracting(JsonNode::asText)
        .containsExactlyElementsOf(r.layers().stream().map(l -> l.digest().toString()).toList());

    BakeResult again = kiln.bake(app("1"), target);
    assertThat(again.published().get(target).reused()).isTrue();
    assertThat(bytes(again.published().get(target))).isZero();

    String other = "docker://" + registry.host() + "/kiln/app:1-copy";
    PublishedImage copy = kiln.bake(app("1"), other).published().get(other);
    assertThat(copy.reused()).isFalse();
    assertThat(bytes(copy)).isZero();
    assertThat(copy.details())
        .containsEntry("blobsSkipped", "3")
        .containsEntry("blobsUploaded", "0");
  }

  @Test
  void imageSharingItsBaseUploadsOnlyItsNewLayersAndOtherRepositoriesMount() throws Exception {
    String first = "docker://" + registry.host() + "/kiln/shared:1";
    String second = "docker://" + registry.host() + "/kiln/shared:2";
    BakeResult a = kiln.bake(app("shared-1"), first);
    BakeResult b = kiln.bake(app("shared-2"), second);
    PublishedImage p = b.published().get(second);
    assertThat(p.details()).containsEntry("blobsUploaded", "2").containsEntry("blobsSkipped", "1");
    assertThat(bytes(p)).isEqualTo(b.layers().get(1).size() + kilnConfigSize(b));
    assertThat(a.layers().get(0).digest()).isEqualTo(b.layers().get(0).digest());

    String elsewhere = "docker://" + registry.host() + "/kiln/elsewhere:1";
    PublishedImage m = kiln.bake(app("shared-2"), elsewhere).published().get(elsewhere);
    assertThat(m.details()).containsEntry("blobsMounted", "3").containsEntry("bytesUploaded", "0");
    assertThat(skopeoInspect(registry.host() + "/kiln/elsewhere:1").path("Digest").asText())
        .isEqualTo(b.digest().toString());
  }

  @Test
  void serverErrorOnABlobUploadIsRetried() throws Exception {
    try (FaultyProxy proxy =
        new FaultyProxy(
            registry.host(),
            s ->
                s.method().equals("PUT")
                    && s.path().contains("/blobs/uploads/")
                    && s.bodyBytes() > 0,
            1)) {
      String target = "docker://" + proxy.host() + "/kiln/flaky:1";
      BakeResult r = kiln.bake(app("flaky"), target);
      assertThat(proxy.failures()).isEqualTo(1);
      assertThat(r.published().get(target).digest()).isEqualTo(r.digest());
      assertThat(skopeoInspect(registry.host() + "/kiln/flaky:1").path("Digest").asText())
          .isEqualTo(r.digest().toString());
    }
  }

  @Test
  void chunkedUploadResumesWhereTheRegistryStopped() throws Exception {
    byte[] blob = new byte[300_000];
    new Random(7).nextBytes(blob);
    Digest d = Digest.of(blob);
    try (FaultyProxy proxy =
        new FaultyProxy(
            registry.host(),
            s ->
                s.method().equals("PATCH")
                    && s.path().contains("/blobs/uploads/")
                    && s.bodyBytes() > 0
                    && patches(s) == 3,
            1)) {
      counter = 0;
      ImageReference ref = ImageReference.parse(proxy.host() + "/kiln/chunks");
      RegistryClient c =
          new RegistryClient(
              ref.registry(),
              URI.create("http://" + proxy.host() + "/"),
              null,
              5,
              Duration.ofMillis(10),
              64 * 1024);
      long sent =
          c.upload(
              "kiln/chunks",
              d,
              blob.length,
              () -> new java.io.ByteArrayInputStream(blob),
              null,
              n -> {});
      assertThat(proxy.failures()).isEqualTo(1);
      assertThat(sent).isEqualTo(blob.length + 64 * 1024); // the failed chunk went twice
      assertThat(c.hasBlob("kiln/chunks", d, RegistryClient.pullScope("kiln/chunks"))).isTrue();
      try (InputStream in = c.openBlob("kiln/chunks", d)) {
        assertThat(in.readAllBytes()).isEqualTo(blob);
      }
      assertThat(
              proxy.seen().stream()
                  .filter(s -> s.method().equals("GET") && s.path().contains("/blobs/uploads/")))
          .hasSize(1);
    }
  }

  private static int counter;

  private static synchronized int patches(FaultyProxy.Seen s) {
    return ++counter;
  }

  @Test
  void wrongCredentialsAreAClearError() throws Exception {
    try (LocalRegistry secured =
        LocalRegistry.start(shared.resolve("secured"), "kiln", "right-password")) {
      String ref = secured.host() + "/kiln/private:1";
      assertThatThrownBy(
              () -> kiln.bake(app("private"), RegistryTarget.of(ref).credentials("kiln", "wrong")))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("rejected the credentials of user 'kiln'");
      assertThatThrownBy(() -> kiln.bake(app("private"), "docker://" + ref))
          .isInstanceOf(ImageStoreException.class)
          .hasMessageContaining("requires credentials");
      BakeResult r =
          kiln.bake(app("private"), RegistryTarget.of(ref).credentials("kiln", "right-password"));
      assertThat(skopeoInspect(ref, "--creds", "kiln:right-password").path("Digest").asText())
          .isEqualTo(r.digest().toString());
    }
  }

  @Test
  void baseImageFromTheRegistryIsPinnedToItsDigest() throws Exception {
    String docker = DockerTesting.docker();
    String pushed = "docker://" + registry.host() + "/kiln/base:1";
    BakeResult base = kiln.bake(app("from-base"), pushed);
    Path cache = shared.resolve("pull-cache");
    try (Kiln k = Kiln.builder().store(shared.resolve("store-2")).build()) {
      BakeResult r =
          k.bake(
              ImageBuild.from(Base.image(pushed))
                  .layer(Layer.run("more", "echo more >> /app/version")),
              "docker-daemon:kiln-it/from-registry:1");
      assertThat(r.layers()).hasSize(3);
      assertThat(r.layers().subList(0, 2))
          .extracting(LayerRecord::digest)
          .containsExactlyElementsOf(base.layers().stream().map(LayerRecord::digest).toList());
      assertThat(Files.readString(r.record())).contains(pushed + "@" + base.digest());
      assertThat(Tools.run(docker, "run", "--rm", "kiln-it/from-registry:1").ok().output())
          .isEqualTo("from-basemore\n");

      // an image index: the linux/amd64 image is chosen, the index digest is what the record pins
      BakeResult arm = kiln.bake(app("arm"), "docker://" + registry.host() + "/kiln/base:arm");
      RegistryClient c =
          Registries.client(ImageReference.parse(registry.host() + "/kiln/base"), true, null);
      int armSize = c.manifest("kiln/base", arm.digest().toString()).bytes().length;
      int amdSize = c.manifest("kiln/base", base.digest().toString()).bytes().length;
      String index =
          "{\"schemaVersion\":2,\"mediaType\":\""
              + RegistryClient.OCI_INDEX
              + "\",\"manifests\":["
              + "{\"mediaType\":\""
              + RegistryClient.OCI_MANIFEST
              + "\",\"digest\":\""
              + arm.digest()
              + "\",\"size\":"
              + armSize
              + ",\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}},"
              + "{\"mediaType\":\""
              + RegistryClient.OCI_MANIFEST
              + "\",\"digest\":\""
              + base.digest()
              + "\",\"size\":"
              + amdSize
              + ",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}";
      Digest indexDigest =
          c.putManifest(
              "kiln/base",
              "multi",
              index.getBytes(java.nio.charset.StandardCharsets.UTF_8),
              RegistryClient.OCI_INDEX);
      BakeResult fromIndex =
          k.bake(ImageBuild.from(Base.image("docker://" + registry.host() + "/kiln/base:multi")));
      assertThat(fromIndex.layers())
          .extracting(LayerRecord::digest)
          .containsExactlyElementsOf(base.layers().stream().map(LayerRecord::digest).toList());
      assertThat(Files.readString(fromIndex.record())).contains("/kiln/base:multi@" + indexDigest);

      BakeResult byDigest =
          k.bake(
              ImageBuild.from(
                      Base.image("docker://" + registry.host() + "/kiln/base@" + base.digest()))
                  .layer(Layer.run("more", "echo more >> /app/version")));
      assertThat(byDigest.provisioned()).isEmpty();
      assertThat(byDigest.layers())
          .extracting(LayerRecord::diffId)
          .containsExactlyElementsOf(r.diffIds());
    }
  }

  private static long kilnConfigSize(BakeResult r) throws Exception {
    Path store = RunOptionsIT.store(r);
    return Files.size(DockerTesting.blob(store, r.configDigest()));
  }
}
