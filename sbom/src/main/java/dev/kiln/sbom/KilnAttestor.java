package dev.kiln.sbom;

import dev.kiln.Attestation;
import dev.kiln.spi.AttestContext;
import dev.kiln.spi.Attestor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Kiln's attestor, found on the class path by {@code Kiln.builder().sbom(…)} and {@code
 * .provenance(true)}: reads the image once ({@link ImageScanner}) for the SBOMs, then writes the
 * SPDX 2.3 ({@link SpdxWriter}), CycloneDX 1.6 ({@link CycloneDxWriter}) and provenance ({@link
 * ProvenanceWriter}) documents asked for. Thread-safe (nothing is shared between calls).
 */
public final class KilnAttestor implements Attestor {
  /** How many files of files layers, and how many jars, an SBOM lists by default. */
  public static final int DEFAULT_LIMIT = 10_000;

  private final int limit;

  /** The attestor {@code ServiceLoader} finds: SBOMs list up to {@link #DEFAULT_LIMIT} files. */
  public KilnAttestor() {
    this(DEFAULT_LIMIT);
  }

  /**
   * An attestor whose SBOMs list at most {@code limit} files of files layers and {@code limit}
   * jars; past that, a bake warns and counts the rest (give it to {@code
   * Kiln.builder().attestor(…)}).
   */
  public KilnAttestor(int limit) {
    if (limit < 1) {
      throw new IllegalArgumentException("the limit must be positive, found " + limit);
    }
    this.limit = limit;
  }

  @Override
  public List<Attestation> attest(AttestContext ctx) throws IOException {
    List<Attestation> out = new ArrayList<>();
    boolean spdx = ctx.kinds().contains(Attestation.Kind.SPDX);
    boolean cdx = ctx.kinds().contains(Attestation.Kind.CYCLONEDX);
    if (spdx || cdx) {
      ImageScanner.Contents contents;
      // made at the first jar only: most images have none, and a directory made and removed on
      // every bake costs more than writing the three documents
      Path[] tmp = new Path[1];
      try {
        contents =
            new ImageScanner(
                    ctx,
                    () -> {
                      if (tmp[0] == null) {
                        tmp[0] = Files.createTempDirectory("kiln-sbom-");
                      }
                      return tmp[0];
                    },
                    limit)
                .scan();
      } finally {
        if (tmp[0] != null) {
          deleteTree(tmp[0]);
        }
      }
      List<Component> sorted = contents.components().stream().sorted(ImageScanner.ORDER).toList();
      if (spdx) {
        out.add(
            Attestation.of(
                Attestation.Kind.SPDX,
                SpdxWriter.write(ctx.image().digest(), sorted, ctx.buildTime())));
      }
      if (cdx) {
        out.add(
            Attestation.of(
                Attestation.Kind.CYCLONEDX,
                CycloneDxWriter.write(ctx.image().digest(), sorted, ctx.buildTime())));
      }
    }
    if (ctx.kinds().contains(Attestation.Kind.PROVENANCE)) {
      out.add(
          Attestation.of(
              Attestation.Kind.PROVENANCE,
              ProvenanceWriter.write(
                  ctx.image(),
                  ctx.base(),
                  ctx.published(),
                  ctx.buildTime().getEpochSecond(),
                  List.copyOf(out))));
    }
    return out;
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  @Override
  public String toString() {
    return "kiln-sbom " + KilnVersion.VERSION;
  }
}
