package dev.kiln.supplychain;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Attestation;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.SigningKey;
import dev.kiln.Target;
import dev.kiln.docker.LocalRegistry;
import dev.kiln.ec2.LoopbackAws;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.Openssl;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One definition — a Debian base with a kernel, a packages layer installing curl, a files layer
 * with a jar, an Ansible layer — baked once, signed, to a registry ({@code docker://}, a local
 * docker-registry), an {@code oci-archive:}, an {@code ova:} and an {@code ec2://} AMI (the
 * loopback AWS server). The SBOMs list curl at the version the packages layer recorded and the
 * jar's Maven coordinates, each attributed to the layer that brought it; the provenance names the
 * four targets; and the same definition baked from a second checkout into a fresh store gives the
 * same SPDX and CycloneDX bytes.
 */
class SupplyChainAllTargetsIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * The network apt reaches the Debian mirror from: the host's, as in the provider-docker tests.
   */
  private static final String NETWORK = System.getProperty("kiln.test.network", "host");

  private static final String GROUP = "dev.kiln.it";
  private static final String ARTIFACT = "supply-app";
  private static final String VERSION = "2.3.4";
  private static final String PURL = "pkg:maven/" + GROUP + "/" + ARTIFACT + "@" + VERSION;

  private static final String PLAYBOOK =
      """
      - name: the image's message of the day
        hosts: all
        gather_facts: false
        tasks:
          - name: write /etc/motd
            ansible.builtin.copy:
              dest: /etc/motd
              content: "baked by Kiln\\n"
              mode: "0644"
      """;

  @AfterAll
  static void removeParentImages() {
    Tools.removeImagesAndParents();
  }

  @Test
  void sbomsFromEveryTargetListCurlAndTheJarByLayerAndAreTheSameFromAnotherCheckout(
      @TempDir Path tmp) throws Exception {
    Tools.requireDocker();
    Tools.require("ansible-playbook", "ansible");
    String openssl = Tools.require("openssl", "openssl");
    Path rootfs = Fixtures.debianWithKernel();

    Path checkout = checkout(tmp.resolve("checkout-1"));
    Path ova = tmp.resolve("out/app.ova");
    Path ociArchive = tmp.resolve("out/app-oci.tar");
    SigningKey key = Openssl.certifiedKey(tmp, "Kiln supply-chain test");
    BakeResult r;
    String registryTarget;
    try (LocalRegistry registry = LocalRegistry.start(tmp.resolve("registry"));
        LoopbackAws aws = LoopbackAws.start();
        Kiln kiln =
            Kiln.builder()
                .store(tmp.resolve("store-1"))
                .sbom(true)
                .provenance(true)
                .signWith(key)
                .build()) {
      registryTarget = "docker://" + registry.host() + "/kiln-it/supply-chain:1";
      r =
          kiln.bake(
              definition(rootfs, checkout),
              Target.parse(registryTarget),
              Target.parse("oci-archive:" + ociArchive),
              Target.parse("ova:" + ova),
              aws.target("eu-west-1", "kiln-supply-chain"));
    }
    assertThat(r.published()).hasSize(4);

    LayerRecord pkgs = r.layers().get(1);
    LayerRecord app = r.layers().get(2);
    assertThat(pkgs.kind()).isEqualTo("packages");
    assertThat(app.kind()).isEqualTo("files");
    assertThat(r.layers().get(3).kind()).isEqualTo("ansible");
    String curlVersion = pkgs.metadata().get("package.curl");
    assertThat(curlVersion).as("the version the packages layer recorded").isNotBlank();

    // SPDX: curl at that version, the jar by its Maven coordinates, each with its layer
    JsonNode spdx = document(r, Attestation.Kind.SPDX);
    JsonNode curl = spdxPackage(spdx, "pkg:deb/debian/curl@");
    assertThat(curl.path("name").asText()).isEqualTo("curl");
    assertThat(curl.path("versionInfo").asText()).isEqualTo(curlVersion);
    assertThat(annotation(curl)).isEqualTo(attribution(pkgs));
    JsonNode jar = spdxPackage(spdx, PURL);
    assertThat(jar.path("versionInfo").asText()).isEqualTo(VERSION);
    assertThat(annotation(jar)).isEqualTo(attribution(app));

    // CycloneDX: the same, as kiln:layer properties
    JsonNode bom = document(r, Attestation.Kind.CYCLONEDX);
    JsonNode cdxCurl = cdxComponent(bom, "pkg:deb/debian/curl@");
    assertThat(cdxCurl.path("version").asText()).isEqualTo(curlVersion);
    assertThat(property(cdxCurl, "kiln:layer")).isEqualTo(pkgs.name());
    assertThat(property(cdxCurl, "kiln:layer.diffID")).isEqualTo(pkgs.diffId().toString());
    JsonNode cdxJar = cdxComponent(bom, PURL);
    assertThat(cdxJar.path("group").asText()).isEqualTo(GROUP);
    assertThat(property(cdxJar, "kiln:layer")).isEqualTo(app.name());
    assertThat(property(cdxJar, "kiln:layer.diffID")).isEqualTo(app.diffId().toString());

    // the provenance: the image, and each of the four targets with the image's digest
    JsonNode provenance = document(r, Attestation.Kind.PROVENANCE);
    List<String> subjects = new ArrayList<>();
    for (JsonNode s : provenance.path("subject")) {
      subjects.add(s.path("name").asText());
      assertThat(s.path("digest").path("sha256").asText())
          .as(s.path("name").asText())
          .isEqualTo(r.digest().hex());
    }
    assertThat(subjects).hasSize(5).contains("image");
    assertThat(subjects)
        .filteredOn(n -> n.startsWith("docker://"))
        .singleElement()
        .asString()
        .contains(registry(registryTarget));
    assertThat(subjects)
        .filteredOn(n -> n.startsWith("oci-archive:"))
        .singleElement()
        .asString()
        .contains(ociArchive.toString());
    assertThat(subjects)
        .filteredOn(n -> n.startsWith("ova:"))
        .singleElement()
        .asString()
        .contains(ova.toString());
    assertThat(subjects)
        .filteredOn(n -> n.startsWith("ec2://"))
        .singleElement()
        .asString()
        .startsWith("ec2://eu-west-1/");

    // A second checkout: the same inputs copied elsewhere with other mtimes, and a fresh store. It
    // bakes to the local store only: the SBOMs describe the image, not where it was published (only
    // the provenance names targets), so the four targets would add minutes and prove nothing more.
    Path second = copyWithOtherTimes(checkout, tmp.resolve("elsewhere/checkout-2"));
    BakeResult again;
    try (Kiln kiln =
        Kiln.builder().store(tmp.resolve("store-2")).sbom(true).provenance(true).build()) {
      again = kiln.bake(definition(rootfs, second));
    }
    for (int i = 0; i < r.layers().size(); i++) {
      assertThat(again.layers().get(i).diffId())
          .as("layer %s from the second checkout", r.layers().get(i).name())
          .isEqualTo(r.layers().get(i).diffId());
    }
    assertThat(again.digest()).isEqualTo(r.digest());
    for (Attestation.Kind kind : List.of(Attestation.Kind.SPDX, Attestation.Kind.CYCLONEDX)) {
      byte[] first = r.attestation(kind).orElseThrow().content();
      byte[] other = again.attestation(kind).orElseThrow().content();
      assertThat(new String(other, StandardCharsets.UTF_8))
          .as(kind + " from the second checkout")
          .isEqualTo(new String(first, StandardCharsets.UTF_8));
      assertThat(other).isEqualTo(first);
    }
  }

  /**
   * Base, packages (curl), files (the jar), Ansible (the playbook) over the inputs in {@code dir}.
   */
  private static ImageBuild definition(Path rootfs, Path dir) {
    return ImageBuild.from(Base.rootfs(rootfs))
        .layer(Layer.packages("curl").network(NETWORK))
        .layer(Layer.files("app").add(dir.resolve("app.jar"), "/opt/app/lib/app.jar", 0644))
        .layer(Layer.ansible(dir.resolve("ansible/site.yml")).named("motd"));
  }

  /** A checkout's inputs: a jar with Maven coordinates and an Ansible playbook. */
  private static Path checkout(Path dir) throws IOException {
    Files.createDirectories(dir.resolve("ansible"));
    Files.writeString(dir.resolve("ansible/site.yml"), PLAYBOOK);
    try (OutputStream os = Files.newOutputStream(dir.resolve("app.jar"));
        JarOutputStream j = new JarOutputStream(os)) {
      long time = Instant.parse("2024-01-01T00:00:00Z").toEpochMilli();
      JarEntry cls = new JarEntry("dev/kiln/it/App.class");
      cls.setTime(time);
      j.putNextEntry(cls);
      j.write(new byte[] {(byte) 0xca, (byte) 0xfe, (byte) 0xba, (byte) 0xbe, 0, 0, 0, 61});
      j.closeEntry();
      JarEntry pom = new JarEntry("META-INF/maven/" + GROUP + "/" + ARTIFACT + "/pom.properties");
      pom.setTime(time);
      j.putNextEntry(pom);
      j.write(
          ("groupId=" + GROUP + "\nartifactId=" + ARTIFACT + "\nversion=" + VERSION + "\n")
              .getBytes(StandardCharsets.ISO_8859_1));
      j.closeEntry();
    }
    return dir;
  }

  /** The same files under {@code to}, each with an mtime the first checkout's files do not have. */
  private static Path copyWithOtherTimes(Path from, Path to) throws IOException {
    FileTime other = FileTime.from(Instant.parse("2001-02-03T04:05:06Z"));
    for (String f : List.of("app.jar", "ansible/site.yml")) {
      Path target = to.resolve(f);
      Files.createDirectories(target.getParent());
      Files.copy(from.resolve(f), target);
      Files.setLastModifiedTime(target, other);
      assertThat(Files.getLastModifiedTime(target))
          .isNotEqualTo(Files.getLastModifiedTime(from.resolve(f)));
    }
    return to;
  }

  private static String registry(String target) {
    return target.substring("docker://".length(), target.indexOf('/', "docker://".length()));
  }

  private static String attribution(LayerRecord layer) {
    return "kiln:layer=" + layer.name() + " kiln:layer.diffID=" + layer.diffId();
  }

  private static JsonNode document(BakeResult r, Attestation.Kind kind) throws IOException {
    return JSON.readTree(r.attestation(kind).orElseThrow().content());
  }

  /** The SPDX package whose purl starts with {@code purl}. */
  private static JsonNode spdxPackage(JsonNode spdx, String purl) {
    return StreamSupport.stream(spdx.path("packages").spliterator(), false)
        .filter(
            p ->
                StreamSupport.stream(p.path("externalRefs").spliterator(), false)
                    .anyMatch(ref -> ref.path("referenceLocator").asText().startsWith(purl)))
        .reduce(
            (a, b) -> {
              throw new AssertionError("more than one SPDX package with purl " + purl);
            })
        .orElseThrow(() -> new AssertionError("no SPDX package with purl " + purl));
  }

  /** The CycloneDX component whose purl starts with {@code purl}. */
  private static JsonNode cdxComponent(JsonNode bom, String purl) {
    return StreamSupport.stream(bom.path("components").spliterator(), false)
        .filter(c -> c.path("purl").asText().startsWith(purl))
        .reduce(
            (a, b) -> {
              throw new AssertionError("more than one CycloneDX component with purl " + purl);
            })
        .orElseThrow(() -> new AssertionError("no CycloneDX component with purl " + purl));
  }

  private static String property(JsonNode component, String name) {
    for (JsonNode p : component.path("properties")) {
      if (p.path("name").asText().equals(name)) {
        return p.path("value").asText();
      }
    }
    return null;
  }

  /** The SPDX annotation comment of an element. */
  private static String annotation(JsonNode element) {
    return element.path("annotations").path(0).path("comment").asText();
  }
}
