package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Digest;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The JSON documents keep their bytes: registries and caches compare them by digest. */
class OciJsonTest {
  static final Digest D = Digest.of("blob".getBytes(StandardCharsets.UTF_8));

  @Test
  void aCacheEntryManifestHasItsPropertiesInTheOciOrder() throws Exception {
    String m =
        new String(
            RegistryRemoteCache.manifest(
                "keys", "abc", "{\"a\":1}".getBytes(StandardCharsets.UTF_8), Optional.empty()),
            StandardCharsets.UTF_8);
    String empty =
        "{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\""
            + RegistryRemoteCache.EMPTY_DIGEST
            + "\",\"size\":2}";
    assertThat(m)
        .isEqualTo(
            "{\"schemaVersion\":2,\"mediaType\":\""
                + RegistryClient.OCI_MANIFEST
                + "\","
                + "\"artifactType\":\""
                + RegistryRemoteCache.ARTIFACT_TYPE
                + "\",\"config\":"
                + empty
                + ",\"layers\":["
                + empty
                + "],\"annotations\":{\"dev.kiln.cache.entry\":\"{\\\"a\\\":1}\",\"dev.kiln.cache.namespace\":\"keys\","
                + "\"dev.kiln.cache.key\":\"abc\"}}");
  }

  @Test
  void anIndexDescriptorCarriesAnnotationsOnlyWhenItHasSome() throws Exception {
    assertThat(
            new String(
                OciJson.write(
                    new OciJson.Index(
                        2,
                        "idx",
                        List.of(
                            new OciJson.Descriptor("m", D.toString(), 5, Map.of("k", "v")),
                            new OciJson.Descriptor("m", D, 6)))),
                StandardCharsets.UTF_8))
        .isEqualTo(
            "{\"schemaVersion\":2,\"mediaType\":\"idx\",\"manifests\":["
                + "{\"mediaType\":\"m\",\"digest\":\""
                + D
                + "\",\"size\":5,\"annotations\":{\"k\":\"v\"}},"
                + "{\"mediaType\":\"m\",\"digest\":\""
                + D
                + "\",\"size\":6}]}");
  }

  @Test
  void aDockerArchiveManifestUsesDockersNames() throws Exception {
    assertThat(
            new String(
                OciJson.write(
                    List.of(new OciJson.ArchiveImage("c.json", List.of(), List.of("a/layer.tar")))),
                StandardCharsets.UTF_8))
        .isEqualTo("[{\"Config\":\"c.json\",\"RepoTags\":[],\"Layers\":[\"a/layer.tar\"]}]");
  }
}
