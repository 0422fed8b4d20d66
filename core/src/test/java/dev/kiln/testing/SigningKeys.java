package dev.kiln.testing;

import dev.kiln.SigningKey;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;

/** Fresh P-256 signing keys for tests, written as the SEC1 PEM {@code openssl ecparam} writes. */
public final class SigningKeys {
  private SigningKeys() {}

  /** A new key, loaded through {@link SigningKey#fromPem} from a temp file. */
  public static SigningKey generate() throws IOException {
    Path f = Files.createTempFile("kiln-test-key", ".pem");
    try {
      write(f);
      return SigningKey.fromPem(f);
    } finally {
      Files.deleteIfExists(f);
    }
  }

  /** Writes a new key to {@code pem} (SEC1 "EC PRIVATE KEY") and returns it loaded. */
  public static SigningKey write(Path pem) throws IOException {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      KeyPair kp = g.generateKeyPair();
      ECPrivateKey priv = (ECPrivateKey) kp.getPrivate();
      ECPublicKey pub = (ECPublicKey) kp.getPublic();
      ByteArrayOutputStream der = new ByteArrayOutputStream();
      der.writeBytes(new byte[] {0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20});
      der.writeBytes(fixed(priv.getS()));
      der.writeBytes(
          new byte[] {
            (byte) 0xa0,
            0x0a,
            0x06,
            0x08,
            0x2a,
            (byte) 0x86,
            0x48,
            (byte) 0xce,
            0x3d,
            0x03,
            0x01,
            0x07,
            (byte) 0xa1,
            0x44,
            0x03,
            0x42,
            0x00,
            0x04
          });
      der.writeBytes(fixed(pub.getW().getAffineX()));
      der.writeBytes(fixed(pub.getW().getAffineY()));
      String b64 = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der.toByteArray());
      Files.writeString(
          pem, "-----BEGIN EC PRIVATE KEY-----\n" + b64 + "\n-----END EC PRIVATE KEY-----\n");
      return SigningKey.fromPem(pem);
    } catch (GeneralSecurityException e) {
      throw new IOException(e);
    }
  }

  private static byte[] fixed(BigInteger v) {
    byte[] b = v.toByteArray();
    byte[] out = new byte[32];
    int n = Math.min(32, b.length);
    System.arraycopy(b, b.length - n, out, 32 - n, n);
    return out;
  }
}
