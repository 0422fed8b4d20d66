package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Digest;
import dev.kiln.Kiln;
import dev.kiln.PublishedImage;
import dev.kiln.SigningKey;
import dev.kiln.event.BakeEvent;
import dev.kiln.testing.Openssl;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A signed OVF package carries the OVF certificate {@code NAME.cert} after its manifest: the line
 * {@code SHA256(NAME.mf)= <hex signature>} and the signer's certificate, which openssl reads and
 * verifies the manifest with, and which no longer verifies a changed manifest.
 */
class OvaSignatureTest {
  static final Digest DIGEST = Digest.of("signed image".getBytes(StandardCharsets.UTF_8));
  static final Pattern SIGNATURE_LINE = Pattern.compile("SHA256\\(([^)]+)\\)= ([0-9a-f]+)\n");

  @TempDir Path dir;
  private String openssl;
  private SigningKey key;

  @BeforeEach
  void key() throws Exception {
    openssl = Tools.require("openssl", "openssl");
    key = Openssl.certifiedKey(dir, "Kiln OVA test");
  }

  @Test
  void ovaHoldsTheCertificateAfterTheManifestAndOpensslVerifiesTheManifestWithIt()
      throws Exception {
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), 6L << 20, 4);
    OvaArchive ova =
        OvfPackage.named("web")
            .imageDigest(DIGEST)
            .signedWith(key)
            .writeOva(raw, dir.resolve("web.ova"));

    assertThat(ova.entries())
        .extracting(PackagedFile::name)
        .containsExactly("web.ovf", "web.mf", "web.cert", "web-disk1.vmdk");
    Path out = Files.createDirectories(dir.resolve("extracted"));
    assertThat(extract(ova.file(), out))
        .containsExactly("web.ovf", "web.mf", "web.cert", "web-disk1.vmdk");
    // the manifest lists the descriptor and the disk, never itself or the certificate
    assertThat(Files.readString(out.resolve("web.mf")))
        .startsWith("SHA256(web.ovf)= ")
        .contains("SHA256(web-disk1.vmdk)= ")
        .doesNotContain("web.cert")
        .hasLineCount(2);

    String cert = Files.readString(out.resolve("web.cert"), StandardCharsets.US_ASCII);
    Matcher m = SIGNATURE_LINE.matcher(cert);
    assertThat(m.lookingAt()).as(cert).isTrue();
    assertThat(m.group(1)).isEqualTo("web.mf");
    assertThat(cert.substring(m.end())).isEqualTo(SigningKey.toPem(key.certificates().get(0)));

    verifyWithOpenssl(out, "web");

    // one changed byte of the manifest (a digest that no longer names the disk) fails
    String mf = Files.readString(out.resolve("web.mf"));
    int at = mf.indexOf("= ") + 2;
    char changed = mf.charAt(at) == '0' ? '1' : '0';
    Files.writeString(out.resolve("web.mf"), mf.substring(0, at) + changed + mf.substring(at + 1));
    Tools.Result bad = opensslVerify(out, "web");
    assertThat(bad.exit()).as(bad.output()).isNotZero();
    assertThat(bad.output()).contains("Verification failure");
  }

  @Test
  void ovfDirectoryGetsTheCertificateAndAnUnsignedRewriteRemovesIt() throws Exception {
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), 6L << 20, 4);
    Path ovf = dir.resolve("ovf");
    OvfFiles files = OvfPackage.named("web").imageDigest(DIGEST).signedWith(key).writeOvf(raw, ovf);
    assertThat(files.files())
        .extracting(PackagedFile::name)
        .containsExactly("web.ovf", "web.mf", "web.cert", "web-disk1.vmdk");
    assertThat(files.vmdk().name()).isEqualTo("web-disk1.vmdk");
    assertThat(files.certificate().orElseThrow().sha256())
        .isEqualTo(Digest.of(Files.readAllBytes(ovf.resolve("web.cert"))));
    verifyWithOpenssl(ovf, "web");

    OvfFiles unsigned = OvfPackage.named("web").imageDigest(DIGEST).writeOvf(raw, ovf);
    assertThat(unsigned.certificate()).isEmpty();
    assertThat(ovf.resolve("web.cert")).doesNotExist();
  }

  @Test
  void aKilnWithASignerSignsOvaAndOvfTargets() throws Exception {
    Path ova = dir.resolve("out/data.ova");
    Path ovf = dir.resolve("out/ovf");
    Path vmdk = dir.resolve("out/data.vmdk");
    String disk = "?disk.dataOnly=true&disk.size=160M";
    BakeResult r;
    List<String> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (Kiln kiln =
        Kiln.builder()
            .store(dir.resolve("store"))
            .signWith(key)
            .listener(
                e -> {
                  if (e instanceof BakeEvent.Warning w) {
                    warnings.add(w.message());
                  }
                })
            .build()) {
      r =
          kiln.bake(
              VmwareDiskOptionsTest.dataImage(),
              "ova:" + ova + disk,
              "ovf:" + ovf + disk,
              "vmdk:" + vmdk + disk);
    }
    Path out = Files.createDirectories(dir.resolve("extracted"));
    assertThat(extract(ova, out))
        .containsExactly("data.ovf", "data.mf", "data.cert", "data-disk1.vmdk");
    verifyWithOpenssl(out, "data");
    verifyWithOpenssl(ovf, "ovf");
    assertThat(r.published()).hasSize(3);
    // ova: and ovf: are signed by their certificate; a VMDK cannot be, and the bake says so
    assertThat(warnings)
        .anySatisfy(w -> assertThat(w).contains("vmdk:").contains("not signed"))
        .noneSatisfy(w -> assertThat(w).contains("ova:"))
        .noneSatisfy(w -> assertThat(w).contains("ovf:"));
    for (PublishedImage p : r.published().values()) {
      if (p.target().startsWith("vmdk:")) {
        assertThat(p.details()).doesNotContainKey("signedBy");
      } else {
        assertThat(p.details()).containsEntry("signedBy", key.keyId());
      }
    }
  }

  /** {@code openssl x509 -pubkey} takes the key from NAME.cert, and verifies NAME.mf with it. */
  private void verifyWithOpenssl(Path packageDir, String name) throws IOException {
    Tools.Result ok = opensslVerify(packageDir, name);
    assertThat(ok.exit()).as(ok.output()).isZero();
    assertThat(ok.output()).contains("Verified OK");
  }

  private Tools.Result opensslVerify(Path packageDir, String name) throws IOException {
    Path certFile = packageDir.resolve(name + ".cert");
    String cert = Files.readString(certFile, StandardCharsets.US_ASCII);
    Matcher m = SIGNATURE_LINE.matcher(cert);
    assertThat(m.lookingAt()).as(cert).isTrue();
    Path sig = dir.resolve(name + ".sig");
    Files.write(sig, HexFormat.of().parseHex(m.group(2)));
    Path pub = dir.resolve(name + ".pub.pem");
    Tools.run(
            openssl,
            "x509",
            "-in",
            certFile.toString(),
            "-pubkey",
            "-noout",
            "-out",
            pub.toString())
        .ok();
    return Tools.run(
        openssl,
        "dgst",
        "-sha256",
        "-verify",
        pub.toString(),
        "-signature",
        sig.toString(),
        packageDir.resolve(m.group(1)).toString());
  }

  static List<String> extract(Path ova, Path into) throws IOException {
    List<String> names = new ArrayList<>();
    try (InputStream in = Files.newInputStream(ova);
        TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        names.add(e.getName());
        Files.copy(tar, into.resolve(e.getName()));
      }
    }
    return names;
  }
}
