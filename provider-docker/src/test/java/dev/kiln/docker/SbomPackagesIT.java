package dev.kiln.docker;

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
import dev.kiln.event.BakeEvent;
import dev.kiln.testing.Fixtures;
import dev.kiln.testing.RecordingListener;
import java.nio.file.Path;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SBOMs of a Debian 12 image with a packages layer: curl is listed at the version the packages
 * layer recorded, attributed to that layer; the packages of the base stay the base's.
 */
class SbomPackagesIT {

  @AfterAll
  static void cleanUp() {
    DockerTesting.removeParentImages();
  }

  @Test
  void listsCurlAtTheVersionThePackagesLayerRecorded(@TempDir Path tmp) throws Exception {
    DockerTesting.docker();
    Path debian = PackagesIT.debianRootfs();
    RecordingListener events = new RecordingListener();
    BakeResult r;
    try (Kiln kiln =
        Fixtures.debianStore(tmp.resolve("store"))
            .listener(events)
            .sbom(true)
            .provenance(true)
            .build()) {
      r =
          kiln.bake(
              ImageBuild.from(Base.rootfs(debian))
                  .layer(Layer.packages("curl").network(PackagesIT.NETWORK)));
    }
    LayerRecord base = r.layers().get(0);
    LayerRecord pkgs = r.layers().get(1);
    String version = pkgs.metadata().get("package.curl");
    assertThat(version).isNotBlank();
    assertThat(events.of(BakeEvent.Warning.class)).isEmpty();

    ObjectMapper json = new ObjectMapper();
    JsonNode spdx = json.readTree(r.attestation(Attestation.Kind.SPDX).orElseThrow().content());
    JsonNode curl = pkg(spdx, "curl");
    assertThat(curl.path("versionInfo").asText()).isEqualTo(version);
    assertThat(curl.path("annotations").path(0).path("comment").asText())
        .isEqualTo("kiln:layer=" + pkgs.name() + " kiln:layer.diffID=" + pkgs.diffId());
    assertThat(curl.path("externalRefs").path(0).path("referenceLocator").asText())
        .startsWith("pkg:deb/debian/curl@")
        .contains("distro=debian-12");
    // a package the base brought and the install left alone is still the base's
    assertThat(pkg(spdx, "base-files").path("annotations").path(0).path("comment").asText())
        .isEqualTo("kiln:layer=" + base.name() + " kiln:layer.diffID=" + base.diffId());

    JsonNode bom = json.readTree(r.attestation(Attestation.Kind.CYCLONEDX).orElseThrow().content());
    JsonNode cdxCurl =
        StreamSupport.stream(bom.path("components").spliterator(), false)
            .filter(c -> c.path("name").asText().equals("curl"))
            .findFirst()
            .orElseThrow();
    assertThat(cdxCurl.path("version").asText()).isEqualTo(version);

    JsonNode prov =
        json.readTree(r.attestation(Attestation.Kind.PROVENANCE).orElseThrow().content());
    assertThat(
            prov.path("predicate")
                .path("buildDefinition")
                .path("resolvedDependencies")
                .findValuesAsText("uri"))
        .anyMatch(u -> u.startsWith("pkg:deb/curl@"));
  }

  private static JsonNode pkg(JsonNode spdx, String name) {
    return StreamSupport.stream(spdx.path("packages").spliterator(), false)
        .filter(p -> p.path("name").asText().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no package " + name));
  }
}
