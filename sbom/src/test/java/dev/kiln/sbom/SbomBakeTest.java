package dev.kiln.sbom;

import static dev.kiln.sbom.SbomFixtures.annotation;
import static dev.kiln.sbom.SbomFixtures.cdxComponent;
import static dev.kiln.sbom.SbomFixtures.dpkg;
import static dev.kiln.sbom.SbomFixtures.property;
import static dev.kiln.sbom.SbomFixtures.spdxPackage;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Attestation;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.event.BakeEvent;
import dev.kiln.testing.RecordingListener;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.cyclonedx.Version;
import org.cyclonedx.parsers.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spdx.tools.SpdxToolsHelper;
import org.spdx.tools.Verify;

/**
 * SBOMs and provenance of a bake: a Debian-like root file system with a dpkg status file, a files
 * layer with a real jar, and a layer that rewrites the package database as a packages layer does.
 */
class SbomBakeTest {
  private static final String BASE_STATUS =
      dpkg("base-files", "12.4+deb12u5", "amd64")
          + dpkg("libc6", "2.36-9+deb12u4", "amd64")
          + "Package: removed-one\nStatus: deinstall ok config-files\nArchitecture: amd64\n"
          + "Version: 1.0\n\n";

  /** The status after a layer installed curl and upgraded base-files. */
  private static final String UPPER_STATUS =
      dpkg("base-files", "12.4+deb12u6", "amd64")
          + dpkg("curl", "7.88.1-10+deb12u5", "amd64")
          + dpkg("libc6", "2.36-9+deb12u4", "amd64");

  private static final byte[] CONF = "greeting=hello\n".getBytes(StandardCharsets.UTF_8);

  ImageBuild build(Path dir) throws Exception {
    Path rootfs =
        SbomFixtures.rootfs(
            dir.resolve("rootfs.tar"),
            Map.of(
                "etc/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\nVERSION_ID=\"12\"\n"
                    .getBytes(StandardCharsets.UTF_8),
                "var/lib/dpkg/status",
                BASE_STATUS.getBytes(StandardCharsets.UTF_8)));
    Path jar =
        SbomFixtures.jar(
            dir.resolve("app-1.2.3.jar"),
            "com.example",
            "app",
            "#Created by Maven\ngroupId=com.example\nartifactId=app\nversion=1.2.3\n");
    Path conf = Files.write(dir.resolve("app.conf"), CONF);
    return ImageBuild.from(Base.rootfs(rootfs))
        .layer(Layer.files("app").add(jar, "/opt/app/app.jar").add(conf, "/etc/app/app.conf", 0644))
        .layer(
            Layer.files("pkgs")
                .content(
                    "/var/lib/dpkg/status", UPPER_STATUS.getBytes(StandardCharsets.UTF_8), 0644));
  }

  static Kiln kiln(Path store, RecordingListener events) throws Exception {
    return Kiln.builder().store(store).listener(events).sbom(true).provenance(true).build();
  }

  @Test
  void listsPackagesJarsAndFilesEachWithTheLayerThatBroughtIt(@TempDir Path tmp) throws Exception {
    RecordingListener events = new RecordingListener();
    BakeResult r;
    try (Kiln kiln = kiln(tmp.resolve("store"), events)) {
      r = kiln.bake(build(tmp));
    }
    assertThat(events.of(BakeEvent.Warning.class)).isEmpty();
    LayerRecord base = r.layers().get(0);
    LayerRecord app = r.layers().get(1);
    LayerRecord pkgs = r.layers().get(2);

    JsonNode spdx = SbomFixtures.json(r, Attestation.Kind.SPDX);
    JsonNode curl = spdxPackage(spdx, "curl");
    assertThat(curl.path("versionInfo").asText()).isEqualTo("7.88.1-10+deb12u5");
    assertThat(annotation(curl)).isEqualTo("kiln:layer=pkgs kiln:layer.diffID=" + pkgs.diffId());
    assertThat(curl.path("externalRefs").path(0).path("referenceLocator").asText())
        .isEqualTo("pkg:deb/debian/curl@7.88.1-10%2Bdeb12u5?arch=amd64&distro=debian-12");
    // unchanged by the upper layer's rewrite of the database: still the base's
    assertThat(annotation(spdxPackage(spdx, "libc6"))).contains("kiln:layer=" + base.name() + " ");
    assertThat(annotation(spdxPackage(spdx, "libc6"))).endsWith(base.diffId().toString());
    // upgraded by the upper layer: its version and layer
    JsonNode baseFiles = spdxPackage(spdx, "base-files");
    assertThat(baseFiles.path("versionInfo").asText()).isEqualTo("12.4+deb12u6");
    assertThat(annotation(baseFiles)).contains("kiln:layer=pkgs ");
    assertThat(SbomFixtures.hasSpdxPackage(spdx, "removed-one")).isFalse();

    Digest jarDigest = Digest.of(Files.readAllBytes(tmp.resolve("app-1.2.3.jar")));
    JsonNode jar = spdxPackage(spdx, "app");
    assertThat(jar.path("versionInfo").asText()).isEqualTo("1.2.3");
    assertThat(jar.path("packageFileName").asText()).isEqualTo("/opt/app/app.jar");
    assertThat(jar.path("checksums").path(0).path("checksumValue").asText())
        .isEqualTo(jarDigest.hex());
    assertThat(jar.path("externalRefs").path(0).path("referenceLocator").asText())
        .isEqualTo("pkg:maven/com.example/app@1.2.3");
    assertThat(annotation(jar)).isEqualTo("kiln:layer=app kiln:layer.diffID=" + app.diffId());

    JsonNode conf =
        StreamSupport.stream(spdx.path("files").spliterator(), false)
            .filter(f -> f.path("fileName").asText().equals("./etc/app/app.conf"))
            .findFirst()
            .orElseThrow();
    assertThat(conf.path("checksums").findValuesAsText("checksumValue"))
        .contains(Digest.of(CONF).hex());
    assertThat(annotation(conf)).contains("kiln:layer=app ");

    JsonNode bom = SbomFixtures.json(r, Attestation.Kind.CYCLONEDX);
    JsonNode cdxCurl = cdxComponent(bom, "curl");
    assertThat(cdxCurl.path("version").asText()).isEqualTo("7.88.1-10+deb12u5");
    assertThat(property(cdxCurl, "kiln:layer")).isEqualTo("pkgs");
    assertThat(property(cdxCurl, "kiln:layer.diffID")).isEqualTo(pkgs.diffId().toString());
    JsonNode cdxJar = cdxComponent(bom, "app");
    assertThat(cdxJar.path("group").asText()).isEqualTo("com.example");
    assertThat(cdxJar.path("purl").asText()).isEqualTo("pkg:maven/com.example/app@1.2.3");
    assertThat(cdxJar.path("hashes").findValuesAsText("content")).contains(jarDigest.hex());
    assertThat(property(cdxJar, "kiln:layer")).isEqualTo("app");
    assertThat(
            bom.path("metadata").path("component").path("hashes").path(0).path("content").asText())
        .isEqualTo(r.digest().hex());

    JsonNode prov = SbomFixtures.json(r, Attestation.Kind.PROVENANCE);
    assertThat(prov.path("_type").asText()).isEqualTo("https://in-toto.io/Statement/v1");
    assertThat(prov.path("predicateType").asText()).isEqualTo("https://slsa.dev/provenance/v1");
    assertThat(prov.path("subject").path(0).path("digest").path("sha256").asText())
        .isEqualTo(r.digest().hex());
    JsonNode layers =
        prov.path("predicate").path("buildDefinition").path("externalParameters").path("layers");
    assertThat(layers.findValuesAsText("key"))
        .containsExactlyElementsOf(r.layers().stream().map(l -> l.key().toString()).toList());
    assertThat(layers.findValuesAsText("kind")).containsExactly("tar", "files", "files");
    assertThat(
            prov.path("predicate").path("runDetails").path("byproducts").findValuesAsText("sha256"))
        .containsExactlyInAnyOrder(
            r.attestation(Attestation.Kind.SPDX).orElseThrow().digest().hex(),
            r.attestation(Attestation.Kind.CYCLONEDX).orElseThrow().digest().hex());
  }

  @Test
  void theSpdxDocumentPassesTheSpdxValidatorAndTheCycloneDxOneItsSchema(@TempDir Path tmp)
      throws Exception {
    BakeResult r;
    try (Kiln kiln = kiln(tmp.resolve("store"), new RecordingListener())) {
      r = kiln.bake(build(tmp));
    }
    Path spdx = tmp.resolve("image.spdx.json");
    Files.write(spdx, r.attestation(Attestation.Kind.SPDX).orElseThrow().content());
    SpdxToolsHelper.initialize();
    List<String> problems = Verify.verify(spdx.toString(), SpdxToolsHelper.SerFileType.JSON);
    assertThat(problems.stream().filter(p -> !p.startsWith("warning:")).toList()).isEmpty();

    byte[] cdx = r.attestation(Attestation.Kind.CYCLONEDX).orElseThrow().content();
    assertThat(new JsonParser().validate(cdx, Version.VERSION_16)).isEmpty();
    assertThat(new ObjectMapper().readTree(cdx).path("specVersion").asText()).isEqualTo("1.6");
    // the validator does fail a document that breaks the schema: the assertion above can fail
    assertThat(
            new JsonParser()
                .validate(
                    new String(cdx, StandardCharsets.UTF_8)
                        .replace("\"library\"", "\"no-such-type\""),
                    Version.VERSION_16))
        .isNotEmpty();
  }

  @Test
  void twoBakesFromTwoStoresGiveTheSameBytes(@TempDir Path tmp) throws Exception {
    Files.createDirectories(tmp.resolve("a"));
    Files.createDirectories(tmp.resolve("b"));
    BakeResult a;
    BakeResult b;
    try (Kiln kiln = kiln(tmp.resolve("a/store"), new RecordingListener())) {
      a = kiln.bake(build(tmp.resolve("a")));
    }
    try (Kiln kiln = kiln(tmp.resolve("b/store"), new RecordingListener())) {
      b = kiln.bake(build(tmp.resolve("b")));
    }
    assertThat(a.digest()).isEqualTo(b.digest());
    assertThat(a.attestations()).hasSize(3);
    for (Attestation.Kind k : Attestation.Kind.values()) {
      assertThat(b.attestation(k).orElseThrow().content())
          .as("%s", k)
          .isEqualTo(a.attestation(k).orElseThrow().content());
    }
  }

  @Test
  void theDocumentsAreBlobsOfTheStoreListedBesideTheImageRecord(@TempDir Path tmp)
      throws Exception {
    Path store = tmp.resolve("store");
    BakeResult r;
    try (Kiln kiln = kiln(store, new RecordingListener())) {
      r = kiln.bake(build(tmp), "oci-archive:" + tmp.resolve("image.tar"));
    }
    for (Attestation a : r.attestations()) {
      assertThat(store.resolve("blobs/sha256/" + a.digest().hex())).hasBinaryContent(a.content());
    }
    List<JsonNode> records;
    try (Stream<Path> s = Files.list(store.resolve("records/" + r.digest().hex()))) {
      ObjectMapper json = new ObjectMapper();
      records =
          s.map(
                  p -> {
                    try {
                      return json.readTree(p.toFile());
                    } catch (java.io.IOException e) {
                      throw new java.io.UncheckedIOException(e);
                    }
                  })
              .filter(n -> n.has("attestations"))
              .toList();
    }
    assertThat(records).hasSize(1);
    assertThat(records.get(0).path("attestations").findValuesAsText("digest"))
        .containsExactlyInAnyOrderElementsOf(
            r.attestations().stream().map(a -> a.digest().toString()).toList());
    // the target is a subject of the provenance, with what it holds
    JsonNode prov = SbomFixtures.json(r, Attestation.Kind.PROVENANCE);
    assertThat(
            StreamSupport.stream(prov.path("subject").spliterator(), false)
                .map(n -> n.path("name").asText()))
        .containsExactly("image", "oci-archive:" + tmp.resolve("image.tar"));
    assertThat(prov.path("subject").path(1).path("digest").path("sha256").asText())
        .isEqualTo(r.digest().hex());
  }

  @Test
  void offItChangesNothing(@TempDir Path tmp) throws Exception {
    BakeResult on;
    BakeResult off;
    try (Kiln kiln = kiln(tmp.resolve("on"), new RecordingListener())) {
      on = kiln.bake(build(tmp));
    }
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("off")).build()) {
      off = kiln.bake(build(tmp));
    }
    assertThat(off.attestations()).isEmpty();
    assertThat(off.layers()).isEqualTo(on.layers());
    assertThat(off.digest()).isEqualTo(on.digest());
    assertThat(off.diffIds()).isEqualTo(on.diffIds());
    try (Stream<Path> s = Files.list(tmp.resolve("off/blobs/sha256"))) {
      assertThat(s.map(p -> p.getFileName().toString()).toList())
          .doesNotContainAnyElementsOf(
              on.attestations().stream().map(a -> a.digest().hex()).toList());
    }
  }
}
