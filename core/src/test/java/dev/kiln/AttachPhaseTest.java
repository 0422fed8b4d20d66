package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.Attachments;
import dev.kiln.spi.AttestationSink;
import dev.kiln.spi.Attestor;
import dev.kiln.spi.Cosign;
import dev.kiln.spi.Dsse;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.PublishContext;
import dev.kiln.testing.RecordingListener;
import dev.kiln.testing.SigningKeys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The attach phase: with a signer, each target that can hold them gets the signed documents and the
 * signer; without one, nothing; a target that cannot hold them is named in a warning; a failure to
 * attach fails the bake.
 */
class AttachPhaseTest {
  @TempDir Path tmp;

  private final List<Attachments> received = new CopyOnWriteArrayList<>();
  private volatile RuntimeException failWith;

  private static ImageBuild build() {
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("app").content("/etc/app", "x".getBytes(StandardCharsets.UTF_8), 0644));
  }

  private static final Attestor FAKE =
      ctx ->
          ctx.kinds().stream()
              .map(
                  k ->
                      Attestation.of(
                          k,
                          k == Attestation.Kind.PROVENANCE
                              ? ("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":"
                                      + "\"image\",\"digest\":{\"sha256\":\""
                                      + ctx.image().digest().hex()
                                      + "\"}}]}")
                                  .getBytes(StandardCharsets.UTF_8)
                              : ("{\"sbom\":\"" + k + "\"}").getBytes(StandardCharsets.UTF_8)))
              .toList();

  private ImageStoreProvider stores() {
    return new ImageStoreProvider() {
      @Override
      public Set<String> schemes() {
        return Set.of("sink", "plain");
      }

      @Override
      public ImageStore create(Target target) {
        if (target.toString().startsWith("plain:")) {
          return (image, ctx) ->
              new PublishedImage(target.toString(), image.digest(), false, Map.of());
        }
        return new Sink(target.toString());
      }
    };
  }

  private final class Sink implements ImageStore, AttestationSink {
    private final String target;

    Sink(String target) {
      this.target = target;
    }

    @Override
    public PublishedImage publish(ImageView image, PublishContext ctx) {
      return new PublishedImage(target, image.digest(), false, Map.of());
    }

    @Override
    public void attach(PublishedImage published, Attachments a, PublishContext ctx) {
      if (failWith != null) {
        throw failWith;
      }
      received.add(a);
    }
  }

  @Test
  void theSinkGetsEachDocumentSignedAsAStatementAboutTheImage() throws Exception {
    SigningKey key = SigningKeys.generate();
    RecordingListener events = new RecordingListener();
    BakeResult r;
    try (Kiln kiln =
        Kiln.builder()
            .store(tmp)
            .imageStores(stores())
            .attestor(FAKE)
            .sbom(true)
            .provenance(true)
            .signWith(key)
            .listener(events)
            .build()) {
      r = kiln.bake(build(), "sink:a", "plain:b");
    }
    assertThat(received).hasSize(1);
    Attachments a = received.get(0);
    assertThat(a.image()).isEqualTo(r.digest());
    assertThat(a.signer()).isSameAs(key);
    assertThat(a.attestations()).hasSize(3);
    ObjectMapper json = new ObjectMapper();
    for (Attachments.Attested at : a.attestations()) {
      assertThat(at.subject()).isEqualTo(r.digest());
      Dsse.Envelope env = Dsse.read(at.envelope());
      assertThat(env.payloadType()).isEqualTo(Dsse.IN_TOTO);
      assertThat(SigningKey.verify(key.publicKey(), env.pae(), env.signatures().get(0).sig()))
          .isTrue();
      JsonNode st = json.readTree(env.payload());
      assertThat(Cosign.subjects(st)).contains(r.digest());
      if (at.document().kind() != Attestation.Kind.PROVENANCE) {
        assertThat(st.path("predicateType").asText())
            .isEqualTo(Cosign.predicateType(at.document().kind()));
        assertThat(Cosign.predicate(env.payload()).orElseThrow())
            .isEqualTo(at.document().content());
      } else {
        assertThat(env.payload()).isEqualTo(at.document().content());
      }
    }
    assertThat(events.of(BakeEvent.Warning.class))
        .anyMatch(w -> w.message().contains("plain:b") && w.message().contains("not signed"));
  }

  @Test
  void withoutASignerNothingIsAttached() throws Exception {
    try (Kiln kiln =
        Kiln.builder().store(tmp).imageStores(stores()).attestor(FAKE).sbom(true).build()) {
      assertThat(kiln.bake(build(), "sink:a").attestations()).hasSize(2);
    }
    assertThat(received).isEmpty();
  }

  @Test
  void aSignerWithoutDocumentsStillSignsTheImage() throws Exception {
    try (Kiln kiln =
        Kiln.builder().store(tmp).imageStores(stores()).signWith(SigningKeys.generate()).build()) {
      kiln.bake(build(), "sink:a");
    }
    assertThat(received).hasSize(1);
    assertThat(received.get(0).attestations()).isEmpty();
  }

  @Test
  void aTargetThatCannotAttachFailsTheBakeNamingIt() throws Exception {
    failWith = new IllegalStateException("the registry refused the manifest");
    try (Kiln kiln =
        Kiln.builder().store(tmp).imageStores(stores()).signWith(SigningKeys.generate()).build()) {
      assertThatThrownBy(() -> kiln.bake(build(), "sink:a"))
          .isInstanceOf(BakeException.class)
          .hasMessageContaining("sink:a")
          .hasMessageContaining("the registry refused the manifest");
    }
  }
}
