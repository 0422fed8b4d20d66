package dev.kiln.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Checks Kiln's signatures with {@code openssl}, the tool anyone verifies them with. */
public final class Openssl {
  private Openssl() {}

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
