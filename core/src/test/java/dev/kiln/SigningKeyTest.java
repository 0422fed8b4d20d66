package dev.kiln;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testing.Tools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Keys written by openssl load, sign what openssl verifies, and bad key files are refused. */
class SigningKeyTest {
  @TempDir Path dir;

  private void openssl(String... args) throws Exception {
    var cmd = new java.util.ArrayList<String>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), "openssl " + String.join(" ", args) + ": " + out);
  }

  @Test
  void pkcs8AndSec1KeysSignWhatOpensslVerifies() throws Exception {
    Tools.require("openssl", "openssl");
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "p8.pem");
    openssl("ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "sec1.pem");
    Files.writeString(dir.resolve("data"), "the payload");
    for (String name : List.of("p8.pem", "sec1.pem")) {
      SigningKey key = SigningKey.fromPem(dir.resolve(name));
      openssl("pkey", "-in", name, "-pubout", "-out", name + ".pub");
      assertEquals(
          SigningKey.publicKeyFromPem(dir.resolve(name + ".pub")),
          key.publicKey(),
          "the public key Kiln derives is the one openssl derives, " + name);
      Files.write(dir.resolve("sig"), key.sign(Files.readAllBytes(dir.resolve("data"))));
      openssl("dgst", "-sha256", "-verify", name + ".pub", "-signature", "sig", "data");
      Files.writeString(dir.resolve("mine.pub"), SigningKey.toPem(key.publicKey()));
      openssl("dgst", "-sha256", "-verify", "mine.pub", "-signature", "sig", "data");
      assertTrue(
          SigningKey.verify(
              key.publicKey(), "the payload".getBytes(), key.sign("the payload".getBytes())));
      assertFalse(
          SigningKey.verify(
              key.publicKey(), "the payloaD".getBytes(), key.sign("the payload".getBytes())));
      assertEquals(64, key.keyId().length());
    }
  }

  @Test
  void keysOnOtherCurvesThanP256AreRefusedSayingHowToWriteOne() throws Exception {
    Tools.require("openssl", "openssl");
    // P-384 and secp256k1 (a 256-bit curve too) load as EC keys and could sign, but nothing that
    // checks a P-256 signature would accept what they sign
    for (String curve : List.of("secp384r1", "secp256k1")) {
      openssl("ecparam", "-genkey", "-name", curve, "-noout", "-out", curve + ".pem");
      IOException e =
          assertThrows(IOException.class, () -> SigningKey.fromPem(dir.resolve(curve + ".pem")));
      assertTrue(e.getMessage().contains("not on the P-256 curve"), e.getMessage());
      assertTrue(e.getMessage().contains("ec_paramgen_curve:P-256"), e.getMessage());
    }
  }

  @Test
  void certificateMustCertifyTheKey() throws Exception {
    Tools.require("openssl", "openssl");
    openssl("ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "a.pem");
    openssl("ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "b.pem");
    openssl(
        "req",
        "-new",
        "-x509",
        "-key",
        "a.pem",
        "-subj",
        "/CN=kiln test",
        "-days",
        "2",
        "-out",
        "a.crt");
    assertEquals(
        1, SigningKey.fromPem(dir.resolve("a.pem"), dir.resolve("a.crt")).certificates().size());
    IOException e =
        assertThrows(
            IOException.class,
            () -> SigningKey.fromPem(dir.resolve("b.pem"), dir.resolve("a.crt")));
    assertTrue(e.getMessage().contains("does not certify"), e.getMessage());
  }

  @Test
  void encryptedTruncatedAndForeignKeysAreRefusedClearly() throws Exception {
    Tools.require("openssl", "openssl");
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem");
    openssl("pkcs8", "-topk8", "-in", "k.pem", "-passout", "pass:x", "-out", "enc.pem");
    IOException enc =
        assertThrows(IOException.class, () -> SigningKey.fromPem(dir.resolve("enc.pem")));
    assertTrue(enc.getMessage().contains("encrypted"), enc.getMessage());

    String pem = Files.readString(dir.resolve("k.pem"));
    int cut = pem.indexOf('\n', 40);
    Files.writeString(
        dir.resolve("cut.pem"), pem.substring(0, cut) + "\n-----END PRIVATE KEY-----\n");
    assertThrows(IOException.class, () -> SigningKey.fromPem(dir.resolve("cut.pem")));

    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem");
    IOException rsa =
        assertThrows(IOException.class, () -> SigningKey.fromPem(dir.resolve("rsa.pem")));
    assertTrue(rsa.getMessage().contains("not an EC key"), rsa.getMessage());

    Files.writeString(dir.resolve("none.pem"), "hello");
    IOException none =
        assertThrows(IOException.class, () -> SigningKey.fromPem(dir.resolve("none.pem")));
    assertTrue(none.getMessage().contains("no EC private key"), none.getMessage());
  }
}
