package dev.kiln;

import dev.kiln.spi.ContentSigner;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An ECDSA key read from a PEM file, signing with SHA-256: what {@code openssl genpkey -algorithm
 * EC -pkeyopt ec_paramgen_curve:P-256} or {@code openssl ecparam -genkey -name prime256v1} write
 * (unencrypted PKCS#8 {@code PRIVATE KEY} or SEC1 {@code EC PRIVATE KEY}), optionally with the
 * key's certificate chain (PEM, leaf first), which an OVA's signature carries.
 *
 * <pre>{@code
 * Kiln.builder().signWith(SigningKey.fromPem(Path.of("cosign.key.pem")))
 * }</pre>
 *
 * An encrypted key is refused with a message that says how to decrypt it ({@code openssl pkcs8}),
 * and a key on another curve than P-256 with one that says how to write a P-256 key.
 */
public final class SigningKey implements ContentSigner {
  private static final Pattern PEM =
      Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \\1-----");

  private final PrivateKey key;
  private final PublicKey publicKey;
  private final List<X509Certificate> certificates;

  private SigningKey(PrivateKey key, PublicKey publicKey, List<X509Certificate> certificates) {
    this.key = key;
    this.publicKey = publicKey;
    this.certificates = List.copyOf(certificates);
  }

  /** The EC private key in this PEM file. */
  public static SigningKey fromPem(Path privateKey) throws IOException {
    return fromPem(privateKey, null);
  }

  /**
   * The EC private key in {@code privateKey} and the certificates (leaf first) in {@code
   * certificates} ({@code null}: none). The leaf must certify this key.
   */
  public static SigningKey fromPem(Path privateKey, Path certificates) throws IOException {
    Objects.requireNonNull(privateKey, "privateKey");
    String text = Files.readString(privateKey, StandardCharsets.US_ASCII);
    byte[] sec1 = null;
    byte[] pkcs8 = null;
    Matcher m = PEM.matcher(text);
    while (m.find()) {
      String type = m.group(1);
      byte[] der = decode(m.group(2), privateKey);
      switch (type) {
        case "PRIVATE KEY" -> {
          pkcs8 = der;
          sec1 = Der.pkcs8Sec1(der, privateKey);
        }
        case "EC PRIVATE KEY" -> {
          sec1 = der;
          pkcs8 = Der.sec1ToPkcs8(der, privateKey);
        }
        case "ENCRYPTED PRIVATE KEY",
            "ENCRYPTED SIGSTORE PRIVATE KEY",
            "ENCRYPTED COSIGN PRIVATE KEY" ->
            throw new IOException(
                privateKey
                    + " holds an encrypted key ("
                    + type
                    + "): Kiln reads unencrypted EC keys; write one with `openssl pkcs8 -in "
                    + privateKey.getFileName()
                    + " -nocrypt -topk8 -out key.pem` (or keep the key in a KMS behind a"
                    + " ContentSigner)");
        case "EC PARAMETERS" -> {}
        default -> {}
      }
      if (sec1 != null) {
        break;
      }
    }
    if (sec1 == null) {
      throw new IOException(
          privateKey + " holds no EC private key (a PEM \"PRIVATE KEY\" or \"EC PRIVATE KEY\")");
    }
    try {
      PrivateKey key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
      if (!(key instanceof ECPrivateKey ec) || !isP256(ec.getParams())) {
        throw new IOException(
            privateKey
                + " holds an EC key that is not on the P-256 curve (Kiln signs with ECDSA P-256 and"
                + " SHA-256, what cosign and the OVF certificate check expect); write one with"
                + " `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem`");
      }
      byte[] point = Der.sec1PublicPoint(sec1, privateKey);
      PublicKey pub = publicKey((ECPrivateKey) key, point, privateKey);
      List<X509Certificate> chain = certificates == null ? List.of() : certificates(certificates);
      if (!chain.isEmpty() && !chain.get(0).getPublicKey().equals(pub)) {
        throw new IOException(
            "the first certificate of "
                + certificates
                + " does not certify the key in "
                + privateKey);
      }
      SigningKey k = new SigningKey(key, pub, chain);
      k.sign(new byte[0]);
      return k;
    } catch (GeneralSecurityException | ClassCastException e) {
      throw new IOException(privateKey + " holds no usable EC private key: " + e.getMessage(), e);
    }
  }

  /** Whether {@code params} are those of NIST P-256 (secp256r1, prime256v1). */
  static boolean isP256(ECParameterSpec params) {
    try {
      AlgorithmParameters p = AlgorithmParameters.getInstance("EC");
      p.init(new ECGenParameterSpec("secp256r1"));
      ECParameterSpec p256 = p.getParameterSpec(ECParameterSpec.class);
      return params.getCurve().equals(p256.getCurve())
          && params.getGenerator().equals(p256.getGenerator())
          && params.getOrder().equals(p256.getOrder())
          && params.getCofactor() == p256.getCofactor();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every Java platform knows the P-256 curve", e);
    }
  }

  /** The public key in a PEM file ({@code PUBLIC KEY}, or the first {@code CERTIFICATE}'s). */
  public static PublicKey publicKeyFromPem(Path pem) throws IOException {
    String text = Files.readString(pem, StandardCharsets.US_ASCII);
    Matcher m = PEM.matcher(text);
    while (m.find()) {
      byte[] der = decode(m.group(2), pem);
      try {
        if (m.group(1).equals("PUBLIC KEY")) {
          String alg = Der.publicKeyAlgorithm(der, pem);
          return KeyFactory.getInstance(alg).generatePublic(new X509EncodedKeySpec(der));
        }
        if (m.group(1).equals("CERTIFICATE")) {
          return certificates(pem).get(0).getPublicKey();
        }
      } catch (GeneralSecurityException e) {
        throw new IOException(pem + " holds no usable public key: " + e.getMessage(), e);
      }
    }
    throw new IOException(pem + " holds no PEM \"PUBLIC KEY\" or \"CERTIFICATE\"");
  }

  /** The public key as PEM ({@code PUBLIC KEY}), as {@code openssl dgst -verify} reads it. */
  public static String toPem(PublicKey key) {
    return pem("PUBLIC KEY", key.getEncoded());
  }

  /** A certificate as PEM. */
  public static String toPem(X509Certificate certificate) throws IOException {
    try {
      return pem("CERTIFICATE", certificate.getEncoded());
    } catch (CertificateException e) {
      throw new IOException(e);
    }
  }

  /** Whether {@code signature} (ASN.1 DER, SHA-256) of {@code data} verifies with {@code key}. */
  public static boolean verify(PublicKey key, byte[] data, byte[] signature) {
    try {
      Signature s = Signature.getInstance(algorithmOf(key));
      s.initVerify(key);
      s.update(data);
      return s.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  @Override
  public byte[] sign(byte[] data) throws IOException {
    try {
      Signature s = Signature.getInstance(algorithm());
      s.initSign(key);
      s.update(data);
      return s.sign();
    } catch (GeneralSecurityException e) {
      throw new IOException("signing failed: " + e.getMessage(), e);
    }
  }

  @Override
  public String algorithm() {
    return "SHA256withECDSA";
  }

  @Override
  public PublicKey publicKey() {
    return publicKey;
  }

  @Override
  public List<X509Certificate> certificates() {
    return certificates;
  }

  @Override
  public String toString() {
    return "SigningKey[" + keyId() + "]";
  }

  private static String algorithmOf(PublicKey key) {
    return switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      default -> key.getAlgorithm();
    };
  }

  private static PublicKey publicKey(ECPrivateKey key, byte[] point, Path file)
      throws IOException, GeneralSecurityException {
    int n = (key.getParams().getCurve().getField().getFieldSize() + 7) / 8;
    if (point == null || point.length != 2 * n + 1 || point[0] != 4) {
      throw new IOException(
          file + " does not hold the public point of its key (uncompressed), which Kiln needs");
    }
    BigInteger x = new BigInteger(1, Arrays.copyOfRange(point, 1, 1 + n));
    BigInteger y = new BigInteger(1, Arrays.copyOfRange(point, 1 + n, 1 + 2 * n));
    return KeyFactory.getInstance("EC")
        .generatePublic(new ECPublicKeySpec(new ECPoint(x, y), key.getParams()));
  }

  private static List<X509Certificate> certificates(Path pem) throws IOException {
    try (var in = Files.newInputStream(pem)) {
      List<X509Certificate> out = new ArrayList<>();
      for (var c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        out.add((X509Certificate) c);
      }
      if (out.isEmpty()) {
        throw new IOException(pem + " holds no certificate");
      }
      return out;
    } catch (CertificateException e) {
      throw new IOException(pem + " holds no readable certificate: " + e.getMessage(), e);
    }
  }

  private static byte[] decode(String body, Path file) throws IOException {
    try {
      return Base64.getMimeDecoder().decode(body.replaceAll("(?m)^[A-Za-z-]+: .*$", "").strip());
    } catch (IllegalArgumentException e) {
      throw new IOException(file + " is not PEM: " + e.getMessage(), e);
    }
  }

  private static String pem(String type, byte[] der) {
    String b64 = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + b64 + "\n-----END " + type + "-----\n";
  }

  /** The few DER structures of EC keys, read and written without a crypto library. */
  private static final class Der {
    private static final byte[] EC_PUBLIC_KEY_OID = {
      0x06, 0x07, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01
    };

    record Tlv(int tag, byte[] data, int end) {}

    static Tlv read(byte[] b, int at, Path file) throws IOException {
      try {
        int tag = b[at] & 0xff;
        int len = b[at + 1] & 0xff;
        int p = at + 2;
        if (len > 0x80) {
          int n = len & 0x7f;
          if (n > 3) {
            throw new IOException(file + ": DER length too long");
          }
          len = 0;
          for (int i = 0; i < n; i++) {
            len = (len << 8) | (b[p++] & 0xff);
          }
        } else if (len == 0x80) {
          throw new IOException(file + ": indefinite DER length");
        }
        if (p + len > b.length) {
          throw new IOException(file + ": DER value runs past the end (truncated key?)");
        }
        return new Tlv(tag, Arrays.copyOfRange(b, p, p + len), p + len);
      } catch (ArrayIndexOutOfBoundsException e) {
        throw new IOException(file + ": truncated DER", e);
      }
    }

    static List<Tlv> sequence(byte[] der, Path file) throws IOException {
      Tlv seq = read(der, 0, file);
      if (seq.tag != 0x30) {
        throw new IOException(file + ": not a DER SEQUENCE");
      }
      List<Tlv> out = new ArrayList<>();
      for (int at = 0; at < seq.data.length; ) {
        Tlv t = read(seq.data, at, file);
        out.add(t);
        at = t.end;
      }
      return out;
    }

    /** PKCS#8 PrivateKeyInfo: the SEC1 ECPrivateKey inside its OCTET STRING. */
    static byte[] pkcs8Sec1(byte[] pkcs8, Path file) throws IOException {
      List<Tlv> f = sequence(pkcs8, file);
      if (f.size() < 3 || f.get(2).tag != 0x04) {
        throw new IOException(file + ": not a PKCS#8 private key");
      }
      List<Tlv> alg = sequence(encode(0x30, f.get(1).data), file);
      if (alg.isEmpty()
          || !Arrays.equals(encode(alg.get(0).tag, alg.get(0).data), EC_PUBLIC_KEY_OID)) {
        throw new IOException(file + " holds a private key that is not an EC key");
      }
      return f.get(2).data;
    }

    /** SEC1 ECPrivateKey to PKCS#8, the curve taken from its [0] parameters. */
    static byte[] sec1ToPkcs8(byte[] sec1, Path file) throws IOException {
      byte[] curve = null;
      for (Tlv t : sequence(sec1, file)) {
        if (t.tag == 0xa0) {
          curve = t.data;
        }
      }
      if (curve == null) {
        throw new IOException(file + ": the EC key does not name its curve");
      }
      byte[] alg = encode(0x30, concat(EC_PUBLIC_KEY_OID, curve));
      return encode(0x30, concat(new byte[] {0x02, 0x01, 0x00}, alg, encode(0x04, sec1)));
    }

    /** The [1] public key BIT STRING of a SEC1 ECPrivateKey, without its unused-bits byte. */
    static byte[] sec1PublicPoint(byte[] sec1, Path file) throws IOException {
      for (Tlv t : sequence(sec1, file)) {
        if (t.tag == 0xa1) {
          Tlv bits = read(t.data, 0, file);
          if (bits.tag == 0x03 && bits.data.length > 1) {
            return Arrays.copyOfRange(bits.data, 1, bits.data.length);
          }
        }
      }
      return null;
    }

    /** The JCA algorithm of a SubjectPublicKeyInfo. */
    static String publicKeyAlgorithm(byte[] spki, Path file) throws IOException {
      List<Tlv> f = sequence(spki, file);
      if (!f.isEmpty()) {
        List<Tlv> alg = sequence(encode(0x30, f.get(0).data), file);
        if (!alg.isEmpty()
            && Arrays.equals(encode(alg.get(0).tag, alg.get(0).data), EC_PUBLIC_KEY_OID)) {
          return "EC";
        }
      }
      return "RSA";
    }

    static byte[] encode(int tag, byte[] data) {
      byte[] len;
      if (data.length < 0x80) {
        len = new byte[] {(byte) data.length};
      } else if (data.length < 0x100) {
        len = new byte[] {(byte) 0x81, (byte) data.length};
      } else {
        len = new byte[] {(byte) 0x82, (byte) (data.length >> 8), (byte) data.length};
      }
      return concat(new byte[] {(byte) tag}, len, data);
    }

    static byte[] concat(byte[]... parts) {
      var out = new java.io.ByteArrayOutputStream();
      for (byte[] p : parts) {
        out.writeBytes(p);
      }
      return out.toByteArray();
    }
  }
}
