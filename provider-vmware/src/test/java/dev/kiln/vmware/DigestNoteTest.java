package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Digest;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class DigestNoteTest {
  private static final Digest A = Digest.of("a".getBytes(StandardCharsets.UTF_8));
  private static final Digest B = Digest.of("b".getBytes(StandardCharsets.UTF_8));

  @Test
  void appendsOneLineAndFindsIt() {
    String text = DigestNote.append("summary\nmore", A);
    assertThat(text).isEqualTo("summary\nmore\n\nKiln-Image-Digest: " + A);
    assertThat(DigestNote.find(text)).contains(A);
    assertThat(DigestNote.append("", A)).isEqualTo("Kiln-Image-Digest: " + A);
  }

  @Test
  void replacesAnOldLine() {
    String text = DigestNote.append(DigestNote.append("summary", A), B);
    assertThat(text).isEqualTo("summary\n\nKiln-Image-Digest: " + B);
    assertThat(DigestNote.find(text)).contains(B);
  }

  @Test
  void findsNothingInForeignText() {
    assertThat(DigestNote.find(null)).isEmpty();
    assertThat(DigestNote.find("built by hand")).isEmpty();
    assertThat(DigestNote.find("Kiln-Image-Digest: sha256:1234")).isEmpty();
    assertThat(DigestNote.find("x Kiln-Image-Digest: " + A)).isEmpty(); // must start a line
  }

  @Test
  void aLongLibraryDescriptionIsShortenedButKeepsTheDigestLine() {
    String d = VspherePublisher.description("x".repeat(5000), A);
    assertThat(d).hasSize(2000).endsWith("…\n\nKiln-Image-Digest: " + A);
    assertThat(DigestNote.find(d)).contains(A);
    assertThat(VspherePublisher.description("short", A))
        .isEqualTo("short\n\nKiln-Image-Digest: " + A);
  }

  @Test
  void aTemplateNoteCarriesThePublicationTimeBeforeTheDigest() {
    Instant t = Instant.parse("2026-12-05T14:01:02.345Z");
    String text = DigestNote.stamp(DigestNote.append("summary", A), A, t);
    assertThat(text)
        .isEqualTo("summary\n\nKiln-Published: 2026-12-05T14:01:02.345Z\nKiln-Image-Digest: " + A);
    assertThat(DigestNote.find(text)).contains(A);
    assertThat(DigestNote.published(text)).contains(t);
    // stamped again: one line of each
    String again = DigestNote.stamp(text, B, t.plusSeconds(1));
    assertThat(again)
        .isEqualTo("summary\n\nKiln-Published: 2026-12-05T14:01:03.345Z\nKiln-Image-Digest: " + B);
    assertThat(DigestNote.published("summary")).isEmpty();
    assertThat(DigestNote.published("Kiln-Published: yesterday")).isEmpty();
  }
}
