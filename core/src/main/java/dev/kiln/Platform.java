package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * An operating system and CPU architecture an image is baked for, as OCI writes them: {@code
 * linux/amd64}, {@code linux/arm64}, with a variant where it matters ({@code linux/arm/v7}). A
 * build is baked for {@link #host()} unless it names its platforms ({@link
 * ImageBuild#platforms(Platform...)}). Immutable.
 *
 * @param os the operating system, as in an OCI config ({@code linux})
 * @param architecture the architecture, as in an OCI config ({@code amd64}, {@code arm64})
 * @param variant the CPU variant ({@code v8}), empty when not given
 */
public record Platform(String os, String architecture, String variant) {
  private static final Pattern PART = Pattern.compile("[a-z0-9][a-z0-9_.-]*");

  /** {@code linux/amd64}: x86-64 Linux. */
  public static final Platform LINUX_AMD64 = new Platform("linux", "amd64", "");

  /** {@code linux/arm64}: 64-bit Arm Linux (AWS Graviton, Apple silicon, most Arm servers). */
  public static final Platform LINUX_ARM64 = new Platform("linux", "arm64", "");

  public Platform {
    checkArgument(os != null && PART.matcher(os).matches(), "not an operating system: %s", os);
    checkArgument(
        architecture != null && PART.matcher(architecture).matches(),
        "not an architecture: %s",
        architecture);
    variant = variant == null ? "" : variant;
    checkArgument(
        variant.isEmpty() || PART.matcher(variant).matches(), "not a CPU variant: %s", variant);
  }

  /**
   * Parses {@code OS/ARCH} or {@code OS/ARCH/VARIANT}, such as {@code linux/arm64}; the common
   * spellings {@code x86_64} and {@code aarch64} are read as {@code amd64} and {@code arm64}.
   */
  public static Platform parse(String s) {
    Objects.requireNonNull(s, "platform");
    String[] p = s.trim().toLowerCase(Locale.ROOT).split("/", -1);
    if (p.length < 2 || p.length > 3) {
      throw new IllegalArgumentException(
          "'"
              + s
              + "' is not a platform: expected OS/ARCH or OS/ARCH/VARIANT, such as linux/arm64");
    }
    return new Platform(p[0], architecture(p[1]), p.length == 3 ? p[2] : "");
  }

  /**
   * Linux on the architecture of this JVM: {@code linux/amd64} on x86-64, {@code linux/arm64} on
   * Arm (images are Linux images whatever the host runs).
   */
  public static Platform host() {
    return new Platform(
        "linux", architecture(System.getProperty("os.arch", "amd64").toLowerCase(Locale.ROOT)), "");
  }

  private static String architecture(String a) {
    return switch (a) {
      case "x86_64", "x86-64", "x64" -> "amd64";
      case "aarch64" -> "arm64";
      default -> a;
    };
  }

  /** The variant, if one is given. */
  public Optional<String> variantIfAny() {
    return variant.isEmpty() ? Optional.empty() : Optional.of(variant);
  }

  /**
   * Whether an image of platform {@code offered} (from an image index) serves this platform: same
   * OS and architecture, and the same variant when this platform names one.
   */
  public boolean accepts(Platform offered) {
    return os.equals(offered.os)
        && architecture.equals(offered.architecture)
        && (variant.isEmpty() || variant.equals(offered.variant));
  }

  /** {@code OS/ARCH} or {@code OS/ARCH/VARIANT}. */
  @Override
  public String toString() {
    return os + "/" + architecture + (variant.isEmpty() ? "" : "/" + variant);
  }
}
