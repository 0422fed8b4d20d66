package dev.kiln.maven;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Attestation;
import dev.kiln.Base;
import dev.kiln.DefinitionContext;
import dev.kiln.Digest;
import dev.kiln.ImageBuild;
import dev.kiln.ImageDefinition;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.SigningKey;
import dev.kiln.VerifyResult;
import dev.kiln.testing.Openssl;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln:bake with sbom=true, provenance and a signing key openssl wrote: the documents are in the
 * store and listed in NAME.json and the log, and the OCI layout it published verifies with the key.
 */
class PluginSupplyChainTest {
  @TempDir Path dir;

  public static final class Good implements ImageDefinition {
    @Override
    public ImageBuild define(DefinitionContext ctx) {
      return ImageBuild.from(Base.scratch())
          .layer(
              Layer.files("hello")
                  .content("/hello.txt", "hello\n".getBytes(StandardCharsets.UTF_8), 0644));
    }
  }

  @Test
  void sbomProvenanceAndSigningKey() throws Exception {
    Openssl.ecKey(dir, "P-256", "@key.pem");
    Openssl.run(dir, "pkey", "-in", "@key.pem", "-pubout", "-out", "@key.pub");
    Path store = dir.resolve("store");
    String target = "oci:" + dir.resolve("layout") + ":v1";
    List<String> log = new ArrayList<>();
    List<PluginBake.Baked> baked =
        PluginBake.run(
            new PluginBake.Request(
                List.of(),
                Good.class.getName(),
                Set.of(),
                List.of(target),
                store,
                DefinitionContext.builder().projectDirectory(dir).build(),
                dir.resolve("out"),
                new PluginBake.SupplyChain("true", true, dir.resolve("key.pem"), null)),
            log::add,
            log::add);
    assertThat(baked).hasSize(1);
    List<Attestation> docs = baked.get(0).result().attestations();
    assertThat(docs)
        .extracting(Attestation::kind)
        .containsExactlyInAnyOrder(
            Attestation.Kind.SPDX, Attestation.Kind.CYCLONEDX, Attestation.Kind.PROVENANCE);

    JsonNode json = new ObjectMapper().readTree(dir.resolve("out/default.json").toFile());
    assertThat(json.path("attestations")).hasSize(3);
    for (JsonNode a : json.path("attestations")) {
      Digest d = Digest.parse(a.path("digest").asText());
      Path file = Path.of(a.path("file").asText());
      assertThat(file).isEqualTo(store.toAbsolutePath().resolve("blobs/sha256/" + d.hex()));
      assertThat(Digest.of(Files.readAllBytes(file))).isEqualTo(d);
      assertThat(log).anyMatch(l -> l.contains(a.path("kind").asText() + " " + d));
    }
    assertThat(json.path("attestations").findValuesAsText("kind"))
        .containsExactlyInAnyOrder("spdx", "cyclonedx", "provenance");

    try (Kiln kiln = Kiln.builder().store(dir.resolve("verify-store")).build()) {
      VerifyResult v = kiln.verify(target, SigningKey.publicKeyFromPem(dir.resolve("key.pub")));
      assertThat(v.verified()).as(v.toString()).isTrue();
      assertThat(v.image()).isEqualTo(baked.get(0).result().digest());
    }
  }

  @Test
  void oneFormatOnlyAndOffByDefault() throws Exception {
    assertThat(PluginBake.sbomFormats("cyclonedx")).containsExactly(Attestation.Kind.CYCLONEDX);
    assertThat(PluginBake.sbomFormats("SPDX, cyclonedx"))
        .containsExactly(Attestation.Kind.SPDX, Attestation.Kind.CYCLONEDX);
    assertThat(PluginBake.sbomFormats("false")).isEmpty();
    assertThat(PluginBake.sbomFormats(null)).isEmpty();
    List<PluginBake.Baked> plain =
        PluginBake.run(
            new PluginBake.Request(
                List.of(),
                Good.class.getName(),
                Set.of(),
                List.of(),
                dir.resolve("store"),
                DefinitionContext.builder().projectDirectory(dir).build(),
                dir.resolve("out")),
            s -> {},
            s -> {});
    assertThat(plain.get(0).result().attestations()).isEmpty();
    assertThat(Files.readString(dir.resolve("out/default.json"))).doesNotContain("attestations");
  }
}
