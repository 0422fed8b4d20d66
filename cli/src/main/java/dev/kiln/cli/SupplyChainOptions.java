package dev.kiln.cli;

import dev.kiln.Attestation;
import dev.kiln.Kiln;
import dev.kiln.SigningKey;
import dev.kiln.spi.Attestor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.Stack;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import picocli.CommandLine.IParameterConsumer;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * {@code --sbom[=FORMATS]}, {@code --provenance}, {@code --sign-key FILE} and {@code --sign-cert
 * FILE} of {@code kiln run}: the SBOMs, provenance and signatures a bake writes
 * (docs/supply-chain.md).
 */
final class SupplyChainOptions {
  /** The value of a bare {@code --sbom}: both formats. */
  static final String BOTH = "spdx,cyclonedx";

  @Option(
      names = "--sbom",
      arity = "0..1",
      paramLabel = "FORMATS",
      parameterConsumer = OptionalFormats.class,
      description =
          "Write SBOMs of the image: spdx, cyclonedx, or both (spdx,cyclonedx, the default of a bare "
              + "--sbom). Needs the kiln-sbom module, which the distribution holds.")
  String sbom;

  @Option(
      names = "--provenance",
      description = "Write an in-toto / SLSA v1 provenance statement of the bake.")
  boolean provenance;

  @Option(
      names = "--sign-key",
      paramLabel = "FILE",
      description =
          "Sign the image and attach the SBOMs and provenance as signed attestations where the target "
              + "holds them (docker://, oci:), with this unencrypted EC P-256 private key (PEM, as "
              + "openssl writes it).")
  Path signKey;

  @Option(
      names = "--sign-cert",
      paramLabel = "FILE",
      description =
          "The certificate chain of the --sign-key key (PEM, leaf first). Needs --sign-key.")
  Path signCert;

  /**
   * Checks the options and reads the key, before anything is baked, and returns what turns on what
   * they ask for in a {@link Kiln.Builder}. Every problem is a {@link Exit.CliException} that names
   * the option.
   */
  Consumer<Kiln.Builder> configure() {
    Set<Attestation.Kind> formats = sbom == null ? Set.of() : formats(sbom);
    if (signCert != null && signKey == null) {
      throw new Exit.CliException(Exit.USAGE, "--sign-cert " + signCert + " needs --sign-key");
    }
    SigningKey key = signKey == null ? null : key(signKey, signCert);
    if (!formats.isEmpty() || provenance) {
      requireAttestor(SupplyChainOptions.class.getClassLoader());
    }
    boolean prov = provenance;
    return b -> {
      if (!formats.isEmpty()) {
        b.sbom(formats.toArray(Attestation.Kind[]::new));
      }
      if (prov) {
        b.provenance(true);
      }
      if (key != null) {
        b.signWith(key);
      }
    };
  }

  /** Whether any document or signature is asked for. */
  boolean any() {
    return sbom != null || provenance || signKey != null;
  }

  /** The SBOM formats of {@code --sbom=…}: {@code spdx}, {@code cyclonedx}, comma-separated. */
  static Set<Attestation.Kind> formats(String value) {
    Set<Attestation.Kind> out = new LinkedHashSet<>();
    for (String f : value.split(",", -1)) {
      switch (f.strip().toLowerCase(Locale.ROOT)) {
        case "spdx" -> out.add(Attestation.Kind.SPDX);
        case "cyclonedx" -> out.add(Attestation.Kind.CYCLONEDX);
        default ->
            throw new Exit.CliException(
                Exit.USAGE,
                "--sbom="
                    + value
                    + ": unknown SBOM format '"
                    + f.strip()
                    + "' (formats: spdx, cyclonedx, or spdx,cyclonedx)");
      }
    }
    return out;
  }

  /** The signing key of {@code file} (and its chain), which must be an EC P-256 key. */
  static SigningKey key(Path file, Path certs) {
    if (!Files.isRegularFile(file)) {
      throw new Exit.CliException(
          Exit.USAGE,
          "--sign-key "
              + file
              + ": "
              + (Files.exists(file) ? "not a regular file" : "no such file"));
    }
    if (certs != null && !Files.isRegularFile(certs)) {
      throw new Exit.CliException(
          Exit.USAGE,
          "--sign-cert "
              + certs
              + ": "
              + (Files.exists(certs) ? "not a regular file" : "no such file"));
    }
    SigningKey key;
    try {
      key = SigningKey.fromPem(file, certs);
    } catch (NoSuchFileException e) {
      throw new Exit.CliException(Exit.USAGE, "--sign-key " + file + ": no such file", e);
    } catch (IOException | RuntimeException e) {
      throw new Exit.CliException(
          Exit.USAGE,
          "--sign-key " + file + ": " + what(e) + " (an EC P-256 private key is needed)",
          e);
    }
    return key;
  }

  /**
   * Fails when no {@link Attestor} (the kiln-sbom module) is on the class path of {@code loader}.
   */
  static void requireAttestor(ClassLoader loader) {
    if (ServiceLoader.load(Attestor.class, loader).findFirst().isEmpty()) {
      throw new Exit.CliException(
          Exit.FAILED,
          "--sbom and --provenance need the kiln-sbom module (dev.kiln:kiln-sbom), which is not on the"
              + " class path: the distribution's lib/ directory holds it; put its jar beside kiln-cli's");
    }
  }

  private static String what(Exception e) {
    String m = e.getMessage();
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    return m == null ? e.getClass().getSimpleName() : m;
  }

  /**
   * Takes the value of {@code --sbom} only when the next argument is one ({@code --sbom=spdx},
   * {@code --sbom spdx,cyclonedx}); {@code --sbom Images.java} leaves the file to the command.
   */
  static final class OptionalFormats implements IParameterConsumer {
    private static final Pattern VALUE = Pattern.compile("[A-Za-z0-9_,-]*");

    @Override
    public void consumeParameters(Stack<String> args, ArgSpec argSpec, CommandSpec commandSpec) {
      List<String> value = new ArrayList<>();
      if (!args.isEmpty()
          && !args.peek().startsWith("-")
          && VALUE.matcher(args.peek()).matches()
          && !commandSpec.optionsMap().containsKey(args.peek())) {
        value.add(args.pop());
      }
      argSpec.setValue(value.isEmpty() ? BOTH : value.get(0));
    }
  }
}
