package dev.kiln.sbom;

import java.io.IOException;
import java.util.Objects;

/**
 * Signs a DSSE envelope: given the PAE encoding of the payload ({@link Dsse#pae}), returns a
 * signature and the id of the key that made it. Implementations (a key file, a KMS, Sigstore) are
 * not part of this module.
 */
public interface Signer {

  /**
   * A signature of a PAE encoding, and the key id a verifier looks the key up by (may be empty).
   */
  record Signature(String keyId, byte[] sig) {
    public Signature {
      Objects.requireNonNull(keyId, "keyId");
      sig = sig.clone();
    }

    @Override
    public byte[] sig() {
      return sig.clone();
    }
  }

  Signature sign(byte[] pae) throws IOException;
}
