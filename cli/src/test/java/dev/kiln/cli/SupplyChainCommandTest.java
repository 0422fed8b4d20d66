package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Digest;
import dev.kiln.testing.Openssl;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln run --sbom --provenance --sign-key to an OCI layout, with a key openssl wrote, then kiln
 * verify of that layout with the key's public half and with another key.
 */
class SupplyChainCommandTest {
  @TempDir Path dir;

  Path project() throws Exception {
    Path p = Files.createDirectories(dir.resolve("project"));
    Files.writeString(p.resolve("Images.java"), RunCommandTest.IMAGES);
    Files.writeString(p.resolve("motd"), "welcome\n");
    return p;
  }

  @Test
  void runWritesSignsAndListsTheDocumentsAndVerifyChecksThem() throws Exception {
    Path key = Openssl.keyPair(dir, "key");
    Openssl.keyPair(dir, "other");
    Path store = dir.resolve("store");
    String target = "oci:" + dir.resolve("layout") + ":v1";
    CliRun run =
        CliRun.kiln(
            "run",
            "--sbom",
            project().resolve("Images.java").toString(),
            "--provenance",
            "--sign-key",
            key.toString(),
            "-t",
            target,
            "--store",
            store.toString());
    assertThat(run.code()).as(run.toString()).isZero();
    List<String> lines = run.outLines();
    assertThat(lines).as(run.toString()).hasSize(4);
    Digest image = Digest.parse(lines.get(0));
    assertThat(lines.subList(1, 4))
        .extracting(l -> l.strip().split(" ")[0])
        .containsExactlyInAnyOrder("spdx", "cyclonedx", "provenance");
    for (String l : lines.subList(1, 4)) {
      String[] f = l.strip().split(" ");
      Digest d = Digest.parse(f[1]);
      Path blob = store.toAbsolutePath().resolve("blobs/sha256/" + d.hex());
      assertThat(f[2]).isEqualTo(blob.toString());
      assertThat(Digest.of(Files.readAllBytes(blob))).as("the store holds " + l).isEqualTo(d);
    }
    String spdx = Files.readString(Path.of(lines.get(1).strip().split(" ")[2]));
    assertThat(spdx).contains("SPDX-2.3").contains(image.hex());
    // the image's record directory lists them
    try (Stream<Path> s = Files.list(store.resolve("records/" + image.hex()))) {
      assertThat(s.filter(p -> p.toString().endsWith(".json")).map(SupplyChainCommandTest::read))
          .anyMatch(
              j ->
                  j.contains("attestations")
                      && lines.subList(1, 4).stream()
                          .allMatch(l -> j.contains(l.strip().split(" ")[1])));
    }

    CliRun ok = verify(target, "key.pub.pem", store);
    assertThat(ok.code()).as(ok.toString()).isEqualTo(Exit.OK);
    assertThat(ok.outLines().get(0)).isEqualTo(target + " " + image + ": verified");
    assertThat(ok.out()).contains("ok      signature").doesNotContain("FAILED");
    assertThat(ok.outLines()).hasSizeGreaterThanOrEqualTo(4);
    assertThat(ok.err()).isEmpty();

    // nothing is written: a store that is not there is not created by verify
    Path none = dir.resolve("no-store");
    CliRun noStore = verify(target, "key.pub.pem", none);
    assertThat(noStore.code()).as(noStore.toString()).isEqualTo(Exit.OK);
    assertThat(noStore.outLines().get(0)).isEqualTo(target + " " + image + ": verified");
    assertThat(none).doesNotExist();

    CliRun wrong = verify(target, "other.pub.pem", store);
    assertThat(wrong.code()).as(wrong.toString()).isEqualTo(Exit.NOT_VERIFIED);
    assertThat(wrong.outLines().get(0)).isEqualTo(target + " " + image + ": NOT verified");
    assertThat(wrong.out()).contains("FAILED  signature");
    assertThat(wrong.errLines()).hasSize(1);
    assertThat(wrong.errLines().get(0))
        .startsWith("kiln: " + target + " is not verified with ")
        .contains("other.pub.pem")
        .contains("signature: ");
  }

  @Test
  void aCertificateChainAndATargetThatCannotHoldSignatures() throws Exception {
    Path key = Openssl.keyPair(dir, "key");
    Openssl.run(
        dir,
        "req",
        "-new",
        "-x509",
        "-key",
        "@key.pem",
        "-subj",
        "/CN=kiln-test",
        "-days",
        "1",
        "-out",
        "@key.crt");
    Path archive = dir.resolve("app.tar");
    CliRun run =
        CliRun.kiln(
            "run",
            project().resolve("Images.java").toString(),
            "--sign-key",
            key.toString(),
            "--sign-cert",
            dir.resolve("key.crt").toString(),
            "-t",
            "oci-archive:" + archive,
            "--store",
            dir.resolve("store").toString());
    assertThat(run.code()).as(run.toString()).isZero();
    assertThat(run.outLines()).as("signing alone writes no document").hasSize(1);
    assertThat(archive).isRegularFile();
    // the user asked for a signature that this target cannot hold: said even without a terminal
    assertThat(run.errLines())
        .containsExactly(
            "kiln: warning: oci-archive:"
                + archive
                + " cannot hold signatures or attestations: the image there is not signed");
  }

  @Test
  void oneSbomFormatAndNoProvenance() throws Exception {
    Path store = dir.resolve("store");
    CliRun run =
        CliRun.kiln(
            "run",
            project().resolve("Images.java").toString(),
            "--sbom=cyclonedx",
            "--store",
            store.toString());
    assertThat(run.code()).as(run.toString()).isZero();
    assertThat(run.outLines()).hasSize(2);
    assertThat(run.outLines().get(1)).startsWith("  cyclonedx sha256:");
    // without the options, only the digest, as before
    CliRun plain =
        CliRun.kiln(
            "run", project().resolve("Images.java").toString(), "--store", store.toString());
    assertThat(plain.outLines()).containsExactly(run.outLines().get(0));
  }

  @Test
  void withoutTheSbomModuleTheErrorSaysWhereItBelongs() throws Exception {
    // a class loader that sees no dev.kiln.spi.Attestor service, as a class path without kiln-sbom
    try (var empty =
        new java.net.URLClassLoader(new java.net.URL[0], ClassLoader.getPlatformClassLoader())) {
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> SupplyChainOptions.requireAttestor(empty))
          .isInstanceOfSatisfying(
              Exit.CliException.class, e -> assertThat(Exit.of(e).code()).isEqualTo(Exit.FAILED))
          .hasMessageContaining("kiln-sbom")
          .hasMessageContaining("lib/");
    }
    // the command's own class path has it
    SupplyChainOptions.requireAttestor(SupplyChainOptions.class.getClassLoader());
  }

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** {@code kiln verify TARGET --key DIR/KEY --store STORE}. */
  private CliRun verify(String target, String key, Path store) {
    return CliRun.kiln(
        "verify", target, "--key", dir.resolve(key).toString(), "--store", store.toString());
  }
}
