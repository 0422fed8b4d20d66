package dev.kiln.spi;

import java.io.IOException;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * Signs what Kiln publishes about an image: cosign signature payloads, DSSE envelopes of SBOMs and
 * provenance, an OVA's manifest. Given to {@code Kiln.builder().signWith(…)}; providers find it
 * through {@link PublishContext#capability}. {@link dev.kiln.SigningKey} is the key-file one; a
 * PKCS#11 token or a cloud KMS implements this interface. Implementations must be thread-safe.
 */
public interface ContentSigner {

  /**
   * An ASN.1 DER signature of {@code data} with {@link #algorithm()} (the digest is taken by the
   * signer: pass the data, not its hash).
   */
  byte[] sign(byte[] data) throws IOException;

  /** The JCA name of the signature algorithm, e.g. {@code SHA256withECDSA}. */
  String algorithm();

  /** The public key that verifies {@link #sign}'s signatures. */
  PublicKey publicKey();

  /**
   * The id a verifier looks the key up by: by default the SHA-256 of the public key's
   * SubjectPublicKeyInfo, in hex.
   */
  default String keyId() {
    return dev.kiln.Digest.of(publicKey().getEncoded()).hex();
  }

  /** The certificate of the key and its chain, leaf first; empty when the key has none. */
  default List<X509Certificate> certificates() {
    return List.of();
  }
}
