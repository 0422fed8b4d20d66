package dev.kiln.vmware.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.ImageStoreException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.spi.ContentSigner;
import dev.kiln.vmware.OvfPackage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.Signature;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An OVA's signature (the OVF certificate file) carries the signer's X.509 certificate; a signer
 * without one is refused for {@code ova:} and {@code ovf:} before a disk is built or a file
 * written, with a message that says how to give one. {@code vmdk:} has no place for a signature and
 * bakes as before.
 */
class OvaSignerWithoutCertificateTest {
  @TempDir Path tmp;

  /** A key in memory, without a certificate. */
  static ContentSigner uncertified() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(256);
    KeyPair pair = g.generateKeyPair();
    return new ContentSigner() {
      @Override
      public byte[] sign(byte[] data) throws IOException {
        try {
          Signature s = Signature.getInstance(algorithm());
          s.initSign(pair.getPrivate());
          s.update(data);
          return s.sign();
        } catch (GeneralSecurityException e) {
          throw new IOException(e);
        }
      }

      @Override
      public String algorithm() {
        return "SHA256withECDSA";
      }

      @Override
      public PublicKey publicKey() {
        return pair.getPublic();
      }
    };
  }

  @Test
  void ovaAndOvfTargetsRefuseASignerWithoutACertificateBeforeWritingAnything() throws Exception {
    ImageBuild build =
        ImageBuild.from(Base.scratch())
            .layer(
                Layer.files("etc")
                    .content("/etc/hostname", "kiln\n".getBytes(StandardCharsets.UTF_8), 0644));
    String disk = "?disk.dataOnly=true&disk.size=160M";
    Path out = tmp.resolve("out");
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).signWith(uncertified()).build()) {
      for (String target :
          new String[] {
            "ova:" + out.resolve("web.ova") + disk, "ovf:" + out.resolve("ovf") + disk
          }) {
        assertThatThrownBy(() -> kiln.bake(build, target))
            .as(target)
            .isInstanceOf(ImageStoreException.class)
            .hasMessageContaining(
                "an OVA signature needs a certificate: SigningKey.fromPem(key, cert)");
        assertThat(out.resolve("web.ova")).doesNotExist();
        assertThat(out.resolve("ovf")).doesNotExist();
      }
      kiln.bake(build, "vmdk:" + out.resolve("web.vmdk") + disk);
      assertThat(out.resolve("web.vmdk")).isNotEmptyFile();
    }
  }

  @Test
  void aPackageRefusesASignerWithoutACertificate() throws Exception {
    ContentSigner signer = uncertified();
    assertThatThrownBy(() -> OvfPackage.named("web").signedWith(signer))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(
            "an OVA signature needs a certificate: SigningKey.fromPem(key, cert)");
  }
}
