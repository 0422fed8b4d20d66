package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.event.BakeEvent;
import dev.kiln.spi.Attestor;
import dev.kiln.testing.RecordingListener;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What core does with {@code Kiln.builder().sbom(…)} and {@code .provenance(…)}: the engine side.
 */
class AttestationOptionsTest {

  private static ImageBuild build() {
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("app").content("/etc/app", "x".getBytes(StandardCharsets.UTF_8), 0644));
  }

  @Test
  void askingWithoutAnAttestorOnTheClassPathSaysWhatToAdd(@TempDir Path tmp) {
    assertThatThrownBy(() -> Kiln.builder().store(tmp).sbom(true).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("dev.kiln:kiln-sbom");
    assertThatThrownBy(() -> Kiln.builder().sbom(Attestation.Kind.PROVENANCE))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void offTheAttestorIsNeverCalled(@TempDir Path tmp) throws Exception {
    AtomicInteger calls = new AtomicInteger();
    Attestor counting =
        ctx -> {
          calls.incrementAndGet();
          return List.of();
        };
    try (Kiln kiln = Kiln.builder().store(tmp).attestor(counting).sbom(true).sbom(false).build()) {
      assertThat(kiln.bake(build()).attestations()).isEmpty();
    }
    assertThat(calls).hasValue(0);
  }

  @Test
  void theDocumentsAskedForAreStoredAndReturnedAndWarningsBecomeEvents(@TempDir Path tmp)
      throws Exception {
    RecordingListener events = new RecordingListener();
    Attestor fake =
        ctx -> {
          ctx.warn("could not read something");
          return ctx.kinds().stream()
              .map(
                  k ->
                      Attestation.of(
                          k, (k + " of " + ctx.image().digest()).getBytes(StandardCharsets.UTF_8)))
              .toList();
        };
    BakeResult r;
    try (Kiln kiln =
        Kiln.builder().store(tmp).listener(events).attestor(fake).provenance(true).build()) {
      r = kiln.bake(build());
    }
    Attestation p = r.attestation(Attestation.Kind.PROVENANCE).orElseThrow();
    assertThat(r.attestations()).containsExactly(p);
    assertThat(tmp.resolve("blobs/sha256/" + p.digest().hex())).hasBinaryContent(p.content());
    assertThat(events.of(BakeEvent.Warning.class))
        .anyMatch(w -> w.message().endsWith("could not read something"));
  }

  @Test
  void anAttestorThatLeavesADocumentOutFailsTheBake(@TempDir Path tmp) throws Exception {
    Attestor partial = ctx -> List.of(Attestation.of(Attestation.Kind.SPDX, new byte[] {1}));
    try (Kiln kiln = Kiln.builder().store(tmp).attestor(partial).sbom(true).build()) {
      assertThatThrownBy(() -> kiln.bake(build()))
          .isInstanceOf(BakeException.class)
          .hasMessageContaining("CYCLONEDX");
    }
    assertThat(Files.exists(tmp.resolve("blobs/sha256/" + Digest.of(new byte[] {1}).hex())))
        .isFalse();
  }
}
