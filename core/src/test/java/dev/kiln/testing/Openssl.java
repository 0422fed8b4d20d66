package dev.kiln.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.SigningKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Checks Kiln's signatures with {@code openssl}, the tool anyone verifies them with. */
public final class Openssl {
  private Openssl() {}

  /**
   * Runs {@code openssl ARGS} and asserts it succeeded; an argument {@code @NAME} stands for the
   * file NAME in {@code dir}.
   */
  public static void run(Path dir, String... args) {
    List<String> cmd = new ArrayList<>(List.of(Tools.require("openssl", "openssl")));
    for (String a : args) {
      cmd.add(a.startsWith("@") ? dir.resolve(a.substring(1)).toString() : a);
    }
    Tools.Result r = Tools.run(cmd);
    assertThat(r.exit()).as(r.output()).isZero();
  }

  /**
   * An EC P-256 key pair that openssl writes to {@code dir}: {@code NAME.pem} (the private key, the
   * path returned) and {@code NAME.pub.pem}.
   */
  public static Path keyPair(Path dir, String name) {
    ecKey(dir, "P-256", "@" + name + ".pem");
    run(dir, "pkey", "-in", "@" + name + ".pem", "-pubout", "-out", "@" + name + ".pub.pem");
    return dir.resolve(name + ".pem");
  }

  /**
   * An EC P-256 key and a self-signed certificate of it for {@code CN=subject}, which openssl
   * writes to {@code dir} as {@code signing-key.pem} and {@code signing-cert.pem}.
   */
  public static SigningKey certifiedKey(Path dir, String subject) throws IOException {
    ecKey(dir, "P-256", "@signing-key.pem");
    run(
        dir,
        "req",
        "-new",
        "-x509",
        "-key",
        "@signing-key.pem",
        "-subj",
        "/CN=" + subject,
        "-days",
        "2",
        "-out",
        "@signing-cert.pem");
    return SigningKey.fromPem(dir.resolve("signing-key.pem"), dir.resolve("signing-cert.pem"));
  }

  /**
   * An EC private key on {@code curve} ({@code P-256}, {@code P-384}) that openssl writes to {@code
   * out}.
   */
  public static void ecKey(Path dir, String curve, String out) {
    run(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + curve, "-out", out);
  }

  /**
   * Asserts that {@code openssl dgst -sha256 -verify} accepts {@code signature} (DER ECDSA) over
   * {@code data} for the PEM public key {@code publicKey}; the data and signature are written to
   * temp files in {@code dir}.
   */
  public static void assertVerifies(Path publicKey, byte[] data, byte[] signature, Path dir)
      throws IOException {
    Path d = Files.write(Files.createTempFile(dir, "data", ""), data);
    Path s = Files.write(Files.createTempFile(dir, "sig", ".der"), signature);
    Tools.Result r =
        Tools.run(
            Tools.require("openssl", "openssl"),
            "dgst",
            "-sha256",
            "-verify",
            publicKey.toString(),
            "-signature",
            s.toString(),
            d.toString());
    assertThat(r.exit()).as(r.output()).isEqualTo(0);
    assertThat(r.output()).contains("Verified OK");
  }
}
