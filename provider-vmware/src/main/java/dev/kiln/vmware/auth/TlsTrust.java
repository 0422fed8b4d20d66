package dev.kiln.vmware.auth;

import static com.google.common.base.Preconditions.checkArgument;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Which server certificates a vSphere connection accepts: the platform's trusted CAs with host name
 * verification (the default), or exactly one certificate, pinned by its SHA-256 thumbprint as
 * vSphere shows it ({@code AB:CD:…}). Pinning is how self-signed vCenter certificates are trusted
 * without switching verification off; there is no "trust everything" option.
 *
 * <p>Immutable and thread-safe.
 */
public final class TlsTrust {
  private final String pinnedHex; // lowercase hex without colons, or null for the platform's CAs
  private final String algorithm;

  private TlsTrust(String pinnedHex, String algorithm) {
    this.pinnedHex = pinnedHex;
    this.algorithm = algorithm;
  }

  /** The platform's trusted CAs, with host name verification. */
  public static TlsTrust systemDefault() {
    return new TlsTrust(null, null);
  }

  /**
   * Exactly the certificate whose SHA-256 thumbprint is {@code thumbprint}: 64 hex digits, with or
   * without colons, any case. The host name is not checked: the thumbprint identifies the server.
   *
   * @throws IllegalArgumentException if it is not a SHA-256 thumbprint
   */
  public static TlsTrust pinnedSha256(String thumbprint) {
    String hex = normalize(thumbprint);
    checkArgument(
        hex.length() == 64,
        "a SHA-256 thumbprint has 64 hex digits (AB:CD:... as vSphere shows it), found '%s'",
        thumbprint);
    return new TlsTrust(hex, "SHA-256");
  }

  /**
   * The certificate of an ESXi host as an HttpNfcLease device URL names it: SHA-256 (64 hex digits)
   * or, as older hosts report, SHA-1 (40 hex digits).
   */
  public static TlsTrust pinnedHost(String thumbprint) {
    String hex = normalize(thumbprint);
    checkArgument(
        hex.length() == 64 || hex.length() == 40,
        "a host thumbprint has 40 (SHA-1) or 64 (SHA-256) hex digits, found '%s'",
        thumbprint);
    return new TlsTrust(hex, hex.length() == 64 ? "SHA-256" : "SHA-1");
  }

  /** The pinned thumbprint as 64 (or 40) lowercase hex digits, if one is pinned. */
  public Optional<String> pinnedThumbprint() {
    return Optional.ofNullable(pinnedHex);
  }

  /** An SSL context that enforces this trust. */
  public SSLContext sslContext() {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      TrustManager tm;
      if (pinnedHex == null) {
        TrustManagerFactory tmf =
            TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init((KeyStore) null);
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
      }
      tm = new Pinned(pinnedHex, algorithm);
      ctx.init(null, new TrustManager[] {tm}, null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot set up TLS: " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return pinnedHex == null
        ? "TlsTrust{system CAs}"
        : "TlsTrust{pinned " + algorithm + " " + pinnedHex + "}";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TlsTrust t
        && java.util.Objects.equals(pinnedHex, t.pinnedHex)
        && java.util.Objects.equals(algorithm, t.algorithm);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(pinnedHex, algorithm);
  }

  /** The thumbprint of {@code cert} in vSphere's form: upper-case hex pairs joined by colons. */
  public static String thumbprint(X509Certificate cert, String algorithm)
      throws CertificateException {
    try {
      byte[] d = MessageDigest.getInstance(algorithm).digest(cert.getEncoded());
      return HexFormat.ofDelimiter(":").withUpperCase().formatHex(d);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new CertificateException(e);
    }
  }

  private static String normalize(String thumbprint) {
    checkArgument(thumbprint != null, "thumbprint must not be null");
    String hex = thumbprint.replace(":", "").strip().toLowerCase(Locale.ROOT);
    checkArgument(
        hex.matches("[0-9a-f]*"),
        "a thumbprint is hex digits, optionally with colons, found '%s'",
        thumbprint);
    return hex;
  }

  /**
   * Accepts exactly one leaf certificate. An {@link X509ExtendedTrustManager}, so that the JDK does
   * not wrap it with its own host name check: the pin is the identity.
   */
  private static final class Pinned extends X509ExtendedTrustManager {
    private final String hex;
    private final String algorithm;

    Pinned(String hex, String algorithm) {
      this.hex = hex;
      this.algorithm = algorithm;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      if (chain == null || chain.length == 0) {
        throw new CertificateException("the server sent no certificate");
      }
      String actual = thumbprint(chain[0], algorithm).replace(":", "").toLowerCase(Locale.ROOT);
      if (!MessageDigest.isEqual(actual.getBytes(), hex.getBytes())) {
        throw new CertificateException(
            "server certificate "
                + algorithm
                + " thumbprint is "
                + thumbprint(chain[0], algorithm)
                + ", expected the pinned "
                + HexFormat.ofDelimiter(":").withUpperCase().formatHex(HexFormat.of().parseHex(hex))
                + ": check that you are talking to the right server, then pin its current"
                + " thumbprint");
      }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      checkServerTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      throw new CertificateException("client certificates are not accepted");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      checkClientTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
