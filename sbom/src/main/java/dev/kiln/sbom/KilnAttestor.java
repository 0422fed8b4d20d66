package dev.kiln.sbom;

import dev.kiln.Attestation;
import dev.kiln.Digest;
import dev.kiln.spi.AttestContext;
import dev.kiln.spi.Attestor;
import dev.kiln.spi.LayerNotes;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Kiln's attestor, found on the class path by {@code Kiln.builder().sbom(…)} and {@code
 * .provenance(true)}: takes notes on every layer the bake writes ({@link LayerFindings}) and reads
 * only the other layers back ({@link ImageScanner}) for the SBOMs, then writes the SPDX 2.3 ({@link
 * SpdxWriter}), CycloneDX 1.6 ({@link CycloneDxWriter}) and provenance ({@link ProvenanceWriter})
 * documents asked for. Thread-safe (nothing is shared between calls).
 */
public final class KilnAttestor implements Attestor {
  /** How many files of files layers, and how many jars, an SBOM lists by default. */
  public static final int DEFAULT_LIMIT = 10_000;

  private final int limit;
  private final int maxNoted;

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
    this(limit, LayerFindings.MAX_NOTED);
  }

  /** As {@link #KilnAttestor(int)}, keeping notes on layers of at most {@code maxNoted} entries. */
  KilnAttestor(int limit, int maxNoted) {
    if (limit < 1) {
      throw new IllegalArgumentException("the limit must be positive, found " + limit);
    }
    this.limit = limit;
    this.maxNoted = maxNoted;
    warmUp();
  }

  private static final AtomicBoolean WARMED = new AtomicBoolean();

  /**
   * Writes throw-away documents once per JVM on a thread of its own, started when the first
   * attestor is made (as {@code Kiln.builder()...build()} makes it when documents are asked for): a
   * command-line bake then loads the document libraries and builds their serializers (about a third
   * of a second) while it builds its layers, instead of after them.
   */
  private static void warmUp() {
    if (!WARMED.compareAndSet(false, true)) {
      return;
    }
    Thread t =
        new Thread(
            () -> {
              try {
                Digest none = Digest.of(new byte[0]);
                List<Component> one =
                    List.of(
                        new Component(
                            Component.Type.JAR,
                            "warm-up",
                            "dev.kiln",
                            "1",
                            "",
                            "",
                            Purls.of("maven", "dev.kiln", "warm-up", "1", Map.of()),
                            "/warm-up.jar",
                            none.hex(),
                            "",
                            "warm-up",
                            none));
                SpdxWriter.write(none, one, Instant.EPOCH);
                CycloneDxWriter.write(none, one, Instant.EPOCH);
              } catch (RuntimeException | LinkageError e) {
                // only a warm-up: the real documents report what goes wrong
              }
            },
            "kiln-sbom-warm-up");
    t.setDaemon(true);
    t.start();
  }

  @Override
  public List<Attestation> attest(AttestContext ctx) throws IOException {
    List<Attestation> out = new ArrayList<>();
    boolean spdx = ctx.kinds().contains(Attestation.Kind.SPDX);
    boolean cdx = ctx.kinds().contains(Attestation.Kind.CYCLONEDX);
    if (spdx || cdx) {
      ImageScanner.Contents contents = new ImageScanner(ctx, limit).scan();
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

  /**
   * Takes the findings of a layer while Kiln writes it ({@link LayerFindings}): the SBOMs then
   * never read back the layers the bake wrote.
   */
  @Override
  public LayerNotes notes(String layerKind) {
    return new LayerFindings(layerKind.equals("files"), limit, maxNoted);
  }

  @Override
  public String toString() {
    return "kiln-sbom " + KilnVersion.VERSION;
  }
}
