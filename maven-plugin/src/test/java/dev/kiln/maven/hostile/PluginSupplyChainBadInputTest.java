package dev.kiln.maven.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.BakeException;
import dev.kiln.DefinitionContext;
import dev.kiln.maven.PluginBake;
import dev.kiln.testing.Openssl;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad signing keys and SBOM formats given to kiln:bake: one line naming the parameter and the file,
 * a failed build, and nothing baked or written.
 */
class PluginSupplyChainBadInputTest {
  @TempDir Path dir;

  private AbstractThrowableAssert<?, ? extends Throwable> fails(PluginBake.SupplyChain sc) {
    String target = "oci:" + dir.resolve("layout") + ":v1";
    PluginBake.Request req =
        new PluginBake.Request(
            List.of(),
            PluginBadInputTest.Good.class.getName(),
            Set.of(),
            List.of(target),
            dir.resolve("store"),
            DefinitionContext.builder().projectDirectory(dir).build(),
            dir.resolve("out"),
            sc);
    var a =
        assertThatThrownBy(() -> PluginBake.run(req, s -> {}, s -> {}))
            .isInstanceOf(BakeException.class)
            .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    assertThat(dir.resolve("store")).as("nothing baked").doesNotExist();
    assertThat(dir.resolve("layout")).as("nothing published").doesNotExist();
    assertThat(dir.resolve("out")).as("nothing written").doesNotExist();
    return a;
  }

  @Test
  void aMissingKeyFile() {
    Path key = dir.resolve("nope.pem");
    fails(new PluginBake.SupplyChain("true", true, key, null))
        .hasMessage("<signingKey> " + key + ": no such file");
  }

  @Test
  void aKeyFileThatIsNotPem() throws Exception {
    Path key = Files.writeString(dir.resolve("key.pem"), "not a key\n");
    fails(new PluginBake.SupplyChain(null, false, key, null))
        .hasMessageStartingWith("<signingKey> " + key + ": ")
        .hasMessageContaining("holds no EC private key");
  }

  @Test
  void anRsaKey() {
    Openssl.run(
        dir,
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "@rsa.pem");
    fails(new PluginBake.SupplyChain("true", false, dir.resolve("rsa.pem"), null))
        .hasMessageContaining("not an EC key");
  }

  @Test
  void anEcKeyOnAnotherCurve() {
    Openssl.ecKey(dir, "P-384", "@p384.pem");
    fails(new PluginBake.SupplyChain("true", false, dir.resolve("p384.pem"), null))
        .hasMessageStartingWith("<signingKey> " + dir.resolve("p384.pem"))
        .hasMessageContaining("not on the P-256 curve");
  }

  @Test
  void certificatesWithoutAKey() throws Exception {
    Path cert = Files.writeString(dir.resolve("c.crt"), "x");
    fails(new PluginBake.SupplyChain(null, false, null, cert))
        .hasMessage(
            "<signingCertificates> " + cert + " needs <signingKey> (-Dkiln.signingKey=FILE)");
  }

  @Test
  void anUnknownSbomFormat() {
    fails(new PluginBake.SupplyChain("yes", false, null, null))
        .hasMessage(
            "<sbom> 'yes': unknown SBOM format 'yes' (true, false, spdx, cyclonedx, or spdx,cyclonedx)");
  }
}
