package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.cli.CliRun;
import dev.kiln.cli.Exit;
import dev.kiln.testing.Openssl;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad keys and options for kiln run's SBOMs, provenance and signing, and for kiln verify: one line
 * that names the option and the file, the exit code, and nothing baked (the key is read before the
 * definition is compiled or the store opened).
 */
class CliSupplyChainBadInputTest {
  @TempDir Path dir;

  Path definition() throws Exception {
    return Files.writeString(dir.resolve("Images.java"), CliBadInputTest.GOOD);
  }

  /** kiln run with these options fails with {@code code}, bakes nothing, and returns its line. */
  String runFails(int code, String... options) throws Exception {
    List<String> args = new ArrayList<>(List.of("run", definition().toString()));
    args.addAll(List.of(options));
    args.addAll(List.of("-t", "oci:" + dir.resolve("layout") + ":v1", "--store", store()));
    String line = CliBadInputTest.fails(CliRun.kiln(args.toArray(String[]::new)), code);
    assertThat(dir.resolve("store")).as("nothing baked").doesNotExist();
    assertThat(dir.resolve("layout")).as("nothing published").doesNotExist();
    return line;
  }

  String store() {
    return dir.resolve("store").toString();
  }

  @Test
  void aMissingKeyFile() throws Exception {
    Path key = dir.resolve("nope.pem");
    assertThat(runFails(Exit.USAGE, "--sbom", "--sign-key", key.toString()))
        .isEqualTo("kiln: --sign-key " + key + ": no such file");
  }

  @Test
  void aDirectoryAsKeyFile() throws Exception {
    Path key = Files.createDirectories(dir.resolve("keys"));
    assertThat(runFails(Exit.USAGE, "--sign-key", key.toString()))
        .isEqualTo("kiln: --sign-key " + key + ": not a regular file");
  }

  @Test
  void aKeyFileThatIsNotPem() throws Exception {
    Path key = Files.writeString(dir.resolve("key.pem"), "not a key\n");
    assertThat(runFails(Exit.USAGE, "--provenance", "--sign-key", key.toString()))
        .startsWith("kiln: --sign-key " + key + ": ")
        .contains("holds no EC private key")
        .contains("EC P-256 private key is needed");
  }

  @Test
  void anRsaKey() throws Exception {
    Openssl.run(
        dir,
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "@rsa.pem");
    assertThat(runFails(Exit.USAGE, "--sign-key", dir.resolve("rsa.pem").toString()))
        .startsWith("kiln: --sign-key " + dir.resolve("rsa.pem") + ": ")
        .contains("not an EC key");
  }

  @Test
  void anEcKeyOnAnotherCurve() throws Exception {
    Openssl.ecKey(dir, "P-384", "@p384.pem");
    assertThat(runFails(Exit.USAGE, "--sign-key", dir.resolve("p384.pem").toString()))
        .startsWith("kiln: --sign-key " + dir.resolve("p384.pem") + ": ")
        .contains("not on the P-256 curve");
  }

  @Test
  void anEncryptedKey() throws Exception {
    Openssl.ecKey(dir, "P-256", "@k.pem");
    Openssl.run(dir, "pkcs8", "-topk8", "-in", "@k.pem", "-passout", "pass:x", "-out", "@enc.pem");
    assertThat(runFails(Exit.USAGE, "--sign-key", dir.resolve("enc.pem").toString()))
        .startsWith("kiln: --sign-key " + dir.resolve("enc.pem") + ": ")
        .contains("encrypted")
        .contains("openssl pkcs8");
  }

  @Test
  void aCertificateOfAnotherKey() throws Exception {
    Openssl.ecKey(dir, "P-256", "@a.pem");
    Openssl.ecKey(dir, "P-256", "@b.pem");
    Openssl.run(
        dir, "req", "-new", "-x509", "-key", "@b.pem", "-subj", "/CN=b", "-days", "1", "-out",
        "@b.crt");
    assertThat(
            runFails(
                Exit.USAGE,
                "--sign-key",
                dir.resolve("a.pem").toString(),
                "--sign-cert",
                dir.resolve("b.crt").toString()))
        .contains("does not certify the key");
  }

  @Test
  void aCertificateWithoutAKey() throws Exception {
    Path cert = Files.writeString(dir.resolve("c.crt"), "x");
    assertThat(runFails(Exit.USAGE, "--sign-cert", cert.toString()))
        .isEqualTo("kiln: --sign-cert " + cert + " needs --sign-key");
  }

  @Test
  void anUnknownSbomFormat() throws Exception {
    assertThat(runFails(Exit.USAGE, "--sbom=spdx,swid"))
        .isEqualTo(
            "kiln: --sbom=spdx,swid: unknown SBOM format 'swid' (formats: spdx, cyclonedx, or spdx,cyclonedx)");
  }

  @Test
  void verifyWithAMissingOrPrivateKey() throws Exception {
    String target = "oci:" + dir.resolve("layout") + ":v1";
    Path missing = dir.resolve("pub.pem");
    assertThat(
            CliBadInputTest.fails(
                CliRun.kiln("verify", target, "--key", missing.toString(), "--store", store()),
                Exit.USAGE))
        .isEqualTo("kiln: --key " + missing + ": no such file");
    Openssl.ecKey(dir, "P-256", "@k.pem");
    assertThat(
            CliBadInputTest.fails(
                CliRun.kiln(
                    "verify", target, "--key", dir.resolve("k.pem").toString(), "--store", store()),
                Exit.USAGE))
        .contains("--key " + dir.resolve("k.pem"))
        .contains("PUBLIC KEY");
    assertThat(dir.resolve("store")).doesNotExist();
  }

  @Test
  void verifyOfAnUnsignedImage() throws Exception {
    String target = "oci:" + dir.resolve("layout") + ":v1";
    CliRun run = CliRun.kiln("run", definition().toString(), "-t", target, "--store", store());
    assertThat(run.code()).as(run.toString()).isZero();
    Openssl.ecKey(dir, "P-256", "@k.pem");
    Openssl.run(dir, "pkey", "-in", "@k.pem", "-pubout", "-out", "@k.pub");
    CliRun v =
        CliRun.kiln("verify", target, "--key", dir.resolve("k.pub").toString(), "--store", store());
    assertThat(v.code()).as(v.toString()).isEqualTo(Exit.NOT_VERIFIED);
    assertThat(v.outLines().get(0)).endsWith(": NOT verified");
    assertThat(v.errLines()).hasSize(1);
    assertThat(v.errLines().get(0)).startsWith("kiln: " + target + " is not verified with ");
  }

  @Test
  void verifyOfNoImage() throws Exception {
    Files.writeString(dir.resolve("k.pub"), "x", StandardCharsets.US_ASCII);
    Openssl.ecKey(dir, "P-256", "@k.pem");
    Openssl.run(dir, "pkey", "-in", "@k.pem", "-pubout", "-out", "@k.pub");
    String line =
        CliBadInputTest.fails(
            CliRun.kiln(
                "verify",
                "oci:" + dir.resolve("none") + ":v1",
                "--key",
                dir.resolve("k.pub").toString(),
                "--store",
                store()),
            Exit.FAILED);
    assertThat(line).contains(dir.resolve("none").toString());
  }
}
