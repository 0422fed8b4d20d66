package dev.kiln.cli;

import dev.kiln.Kiln;
import dev.kiln.SigningKey;
import dev.kiln.VerifyResult;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code kiln verify TARGET --key PUBLIC.pem}: checks an image's signature and attestations. */
@Command(
    name = "verify",
    mixinStandardHelpOptions = true,
    header = "Check the signature and the signed SBOMs and provenance of a published image.",
    description = {
      "Reads the image a docker:// or oci: target names and checks, with the public key: that a signature of "
          + "its manifest digest verifies; that each attestation's signature verifies and its statement is about "
          + "the image; that each SBOM is one the provenance lists. Nothing is written.",
      "Prints the image digest and one line per check, 'ok' or 'FAILED', with what was found. Exits 0 when "
          + "every check holds, 5 when one does not (or nothing is signed by the key)."
    })
final class VerifyCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Mixin StoreOption store;

  @Parameters(
      index = "0",
      paramLabel = "TARGET",
      description = "The image to check, such as docker://HOST/REPO:TAG or oci:DIR:TAG.")
  String target;

  @Option(
      names = {"-k", "--key"},
      required = true,
      paramLabel = "FILE",
      description =
          "The public key (PEM \"PUBLIC KEY\", as `openssl pkey -pubout` writes it) or a certificate of it.")
  Path key;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PublicKey publicKey = publicKey(key);
    VerifyResult r;
    // "nothing is written": without a store there already, a throwaway one serves
    Path existing = store.path();
    Path scratch =
        Files.isRegularFile(existing.resolve("oci-layout"))
            ? null
            : Files.createTempDirectory("kiln-verify-");
    try (Kiln kiln =
        scratch == null
            ? store.open(null)
            : Kiln.builder().store(scratch.resolve("store")).build()) {
      r = kiln.verify(target, publicKey);
    } finally {
      if (scratch != null) {
        deleteTree(scratch);
      }
    }
    out.println(r.target() + " " + r.image() + ": " + (r.verified() ? "verified" : "NOT verified"));
    for (VerifyResult.Check c : r.checks()) {
      out.println("  " + c);
    }
    out.flush();
    if (r.verified()) {
      return Exit.OK;
    }
    List<VerifyResult.Check> problems = r.problems();
    throw new Exit.CliException(
        Exit.NOT_VERIFIED,
        target
            + " is not verified with "
            + key
            + ": "
            + (problems.isEmpty()
                ? "no signature by this key"
                : problems.get(0).about()
                    + ": "
                    + problems.get(0).message()
                    + (problems.size() > 1 ? " (and " + (problems.size() - 1) + " more)" : "")));
  }

  static PublicKey publicKey(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new Exit.CliException(
          Exit.USAGE,
          "--key " + file + ": " + (Files.exists(file) ? "not a regular file" : "no such file"));
    }
    try {
      return SigningKey.publicKeyFromPem(file);
    } catch (IOException | RuntimeException e) {
      String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      throw new Exit.CliException(Exit.USAGE, "--key " + file + ": " + m, e);
    }
  }

  private static void deleteTree(Path dir) {
    try (java.util.stream.Stream<Path> all = Files.walk(dir)) {
      all.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (java.io.IOException | java.io.UncheckedIOException e) {
      // a temp directory: left to the system's clean-up
    }
  }
}
