package dev.kiln.hostile;

import static dev.kiln.sbom.SbomFixtures.dpkg;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.Attestation;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.event.BakeEvent;
import dev.kiln.sbom.KilnAttestor;
import dev.kiln.sbom.SbomFixtures;
import dev.kiln.testing.RecordingListener;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an image holds never fails a bake with SBOMs on, nor puts a wrong entry in them: a cut-off
 * or garbled package database, a jar that is no zip, a pom.properties without a version, more files
 * than an SBOM lists, whiteouts. Each gives a warning event and a best-effort SBOM.
 */
class SbomHostileContentTest {
  private final RecordingListener events = new RecordingListener();

  private BakeResult bake(Path tmp, ImageBuild build) throws Exception {
    try (Kiln kiln =
        Kiln.builder().store(tmp.resolve("store")).listener(events).sbom(true).build()) {
      return bakeTwice(kiln, build);
    }
  }

  /**
   * Bakes {@code build} cold, when the SBOMs come from the notes taken while the layers were
   * written, then again, when every layer is a cache hit and is read back: both must give the same
   * documents and the same warnings.
   */
  private BakeResult bakeTwice(Kiln kiln, ImageBuild build) throws Exception {
    BakeResult cold = kiln.bake(build);
    List<String> coldWarnings = warnings();
    BakeResult again = kiln.bake(build);
    List<String> all = warnings();
    assertThat(again.digest()).isEqualTo(cold.digest());
    for (Attestation a : cold.attestations()) {
      assertThat(new String(again.attestation(a.kind()).orElseThrow().content(), UTF_8))
          .as("%s read back", a.kind())
          .isEqualTo(new String(a.content(), UTF_8));
    }
    assertThat(all.subList(coldWarnings.size(), all.size()))
        .containsExactlyInAnyOrderElementsOf(coldWarnings);
    return cold;
  }

  private List<String> warnings() {
    return events.of(BakeEvent.Warning.class).stream().map(BakeEvent.Warning::message).toList();
  }

  private static Base rootfsWithStatus(Path tmp, byte[] status) throws Exception {
    return Base.rootfs(
        SbomFixtures.rootfs(
            tmp.resolve("rootfs.tar"),
            Map.of("var/lib/dpkg/status", status, "bin/sh", new byte[1])));
  }

  private static List<String> packageNames(JsonNode spdx) {
    return StreamSupport.stream(spdx.path("packages").spliterator(), false)
        .map(p -> p.path("name").asText())
        .filter(n -> !n.equals("kiln-image"))
        .toList();
  }

  @Test
  void aCutOffStatusFileLosesOnlyItsLastStanza(@TempDir Path tmp) throws Exception {
    String status =
        dpkg("pkg-a", "1.0", "amd64")
            + dpkg("pkg-b", "2.0", "amd64")
            + "Package: pkg-c\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.1-";
    BakeResult r =
        bake(tmp, ImageBuild.from(rootfsWithStatus(tmp, status.getBytes(StandardCharsets.UTF_8))));
    JsonNode spdx = SbomFixtures.json(r, Attestation.Kind.SPDX);
    // pkg-c's version may be cut ("3.0.1-" of "3.0.1-4"): it is left out, not listed wrong
    assertThat(packageNames(spdx)).containsExactly("pkg-a", "pkg-b");
    assertThat(warnings())
        .anyMatch(w -> w.contains("/var/lib/dpkg/status") && w.contains("cut off"));
  }

  @Test
  void aGarbledStatusFileKeepsItsReadableStanzas(@TempDir Path tmp) throws Exception {
    byte[] garbage = {(byte) 0xff, (byte) 0xfe, 0, 1, 2, '\n', 'x', 'y', '\n', '\n'};
    byte[] head = dpkg("pkg-a", "1.0", "amd64").getBytes(StandardCharsets.UTF_8);
    byte[] tail =
        (dpkg("pkg-b", "2.0", "amd64")
                + "Package: no-version\nStatus: install ok installed\n\n"
                + "Package: pkg-c\nPackage: pkg-d\nVersion: 1\n\n")
            .getBytes(StandardCharsets.UTF_8);
    byte[] status = new byte[head.length + garbage.length + tail.length];
    System.arraycopy(head, 0, status, 0, head.length);
    System.arraycopy(garbage, 0, status, head.length, garbage.length);
    System.arraycopy(tail, 0, status, head.length + garbage.length, tail.length);
    BakeResult r = bake(tmp, ImageBuild.from(rootfsWithStatus(tmp, status)));
    assertThat(packageNames(SbomFixtures.json(r, Attestation.Kind.SPDX)))
        .containsExactly("pkg-a", "pkg-b");
    assertThat(
            StreamSupport.stream(
                    SbomFixtures.json(r, Attestation.Kind.CYCLONEDX)
                        .path("components")
                        .spliterator(),
                    false)
                .map(c -> c.path("name").asText()))
        .containsExactly("pkg-a", "pkg-b");
    assertThat(warnings())
        .anyMatch(w -> w.contains("is not UTF-8"))
        .anyMatch(w -> w.contains("unreadable stanza"))
        .anyMatch(w -> w.contains("without a readable Package and Version"));
  }

  @Test
  void aJarThatIsNoZipIsListedByItsDigest(@TempDir Path tmp) throws Exception {
    byte[] notZip = "this is not a zip archive at all".getBytes(StandardCharsets.UTF_8);
    Path jar = Files.write(tmp.resolve("broken.jar"), notZip);
    BakeResult r =
        bake(
            tmp,
            ImageBuild.from(Base.scratch())
                .layer(Layer.files("libs").add(jar, "/opt/lib/broken.jar")));
    JsonNode p =
        SbomFixtures.spdxPackage(SbomFixtures.json(r, Attestation.Kind.SPDX), "broken.jar");
    assertThat(p.path("checksums").path(0).path("checksumValue").asText())
        .isEqualTo(Digest.of(notZip).hex());
    assertThat(p.has("versionInfo")).isFalse();
    assertThat(p.has("externalRefs")).isFalse();
    assertThat(warnings())
        .anyMatch(w -> w.contains("jar /opt/lib/broken.jar is not a zip archive"));
  }

  @Test
  void aPomPropertiesWithoutAVersionNamesNoCoordinates(@TempDir Path tmp) throws Exception {
    Path jar =
        SbomFixtures.jar(
            tmp.resolve("lib-9.jar"),
            "org.example",
            "lib",
            "groupId=org.example\nartifactId=lib\n");
    BakeResult r =
        bake(
            tmp,
            ImageBuild.from(Base.scratch()).layer(Layer.files("libs").add(jar, "/opt/lib-9.jar")));
    JsonNode spdx = SbomFixtures.json(r, Attestation.Kind.SPDX);
    JsonNode p = SbomFixtures.spdxPackage(spdx, "lib-9.jar");
    assertThat(p.has("versionInfo")).isFalse();
    assertThat(p.has("externalRefs")).isFalse();
    assertThat(p.path("checksums").path(0).path("checksumValue").asText())
        .isEqualTo(Digest.of(Files.readAllBytes(jar)).hex());
    assertThat(warnings())
        .anyMatch(w -> w.contains("jar /opt/lib-9.jar") && w.contains("has no version"));
  }

  @Test
  void moreFilesThanAnSbomListsAreCountedNotListed(@TempDir Path tmp) throws Exception {
    // the limit is 10,000 by default; a smaller one shows the same mechanism in a second
    Path tree = Files.createDirectories(tmp.resolve("tree"));
    for (int i = 0; i < 103; i++) {
      Files.write(tree.resolve(String.format("f%03d", i)), new byte[] {(byte) i});
    }
    Path jar =
        SbomFixtures.jar(tmp.resolve("a.jar"), "g", "a", "groupId=g\nartifactId=a\nversion=1\n");
    BakeResult r;
    try (Kiln kiln =
        Kiln.builder()
            .store(tmp.resolve("store"))
            .listener(events)
            .sbom(true)
            .attestor(new KilnAttestor(100))
            .build()) {
      r =
          bakeTwice(
              kiln,
              ImageBuild.from(Base.scratch())
                  .layer(Layer.files("many").addTree(tree, "/data").add(jar, "/opt/a.jar")));
    }
    JsonNode spdx = SbomFixtures.json(r, Attestation.Kind.SPDX);
    assertThat(spdx.path("files").size()).isEqualTo(100);
    // the first 100 by path, each with its own digest: none listed that is not there
    assertThat(spdx.path("files").findValuesAsText("fileName"))
        .allMatch(f -> f.matches("\\./data/f0\\d\\d"));
    for (JsonNode f : spdx.path("files")) {
      int i = Integer.parseInt(f.path("fileName").asText().substring("./data/f".length()));
      assertThat(f.path("checksums").path(1).path("checksumValue").asText())
          .isEqualTo(Digest.of(new byte[] {(byte) i}).hex());
    }
    // jars are counted apart: the jar is still listed
    assertThat(SbomFixtures.spdxPackage(spdx, "a").path("versionInfo").asText()).isEqualTo("1");
    assertThat(SbomFixtures.json(r, Attestation.Kind.CYCLONEDX).path("components").size())
        .isEqualTo(101);
    assertThat(warnings()).anyMatch(w -> w.contains("list 100 of them and leave 3 out"));
  }

  @Test
  void whiteoutsAndOverwritesDecideWhatIsListedAndWhoBroughtIt(@TempDir Path tmp) throws Exception {
    Path v1 =
        SbomFixtures.jar(tmp.resolve("v1.jar"), "g", "x", "groupId=g\nartifactId=x\nversion=1\n");
    Path v2 =
        SbomFixtures.jar(tmp.resolve("v2.jar"), "g", "x", "groupId=g\nartifactId=x\nversion=2\n");
    Path gone =
        SbomFixtures.jar(
            tmp.resolve("gone.jar"), "g", "gone", "groupId=g\nartifactId=gone\nversion=1\n");
    Path whiteouts = tmp.resolve("whiteouts.tar");
    try (TarArchiveOutputStream t = new TarArchiveOutputStream(Files.newOutputStream(whiteouts))) {
      for (String p : List.of("opt/.wh.gone.jar", "var/lib/dpkg/.wh.status")) {
        TarArchiveEntry e = new TarArchiveEntry(p);
        e.setMode(0100644);
        e.setModTime(0);
        t.putArchiveEntry(e);
        t.closeArchiveEntry();
      }
    }
    ImageBuild b =
        ImageBuild.from(
                rootfsWithStatus(
                    tmp, dpkg("pkg-a", "1.0", "amd64").getBytes(StandardCharsets.UTF_8)))
            .layer(Layer.files("low").add(v1, "/opt/x.jar").add(gone, "/opt/gone.jar"))
            .layer(Layer.files("high").add(v2, "/opt/x.jar"))
            .layer(Layer.tar(whiteouts));
    BakeResult r = bake(tmp, b);
    JsonNode spdx = SbomFixtures.json(r, Attestation.Kind.SPDX);
    assertThat(packageNames(spdx)).containsExactly("x");
    JsonNode x = SbomFixtures.spdxPackage(spdx, "x");
    assertThat(x.path("versionInfo").asText()).isEqualTo("2");
    assertThat(SbomFixtures.annotation(x)).startsWith("kiln:layer=high ");
    assertThat(warnings()).isEmpty();
  }
}
