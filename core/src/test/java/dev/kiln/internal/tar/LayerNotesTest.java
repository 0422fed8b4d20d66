package dev.kiln.internal.tar;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Digest;
import dev.kiln.internal.tar.TarTestSupport.CompressorPool;
import dev.kiln.spi.InputChangedException;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import dev.kiln.spi.LayerNotes;
import dev.kiln.spi.LayerReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The notes an attestor takes while a layer is written are what it would take by reading the
 * finished layer back: the same entries in the same order, and the same content bytes. The notes of
 * a layer whose writing fails are never handed on.
 */
class LayerNotesTest {
  @RegisterExtension static final CompressorPool compressors = new CompressorPool(2);

  @TempDir Path tmp;

  /** Takes down every entry's type and path, and the content of every file as hex. */
  static final class Recording implements LayerNotes {
    final List<String> lines = new ArrayList<>();

    @Override
    public OutputStream entry(LayerEntry e) {
      if (e.type() != Type.FILE) {
        lines.add(e.type() + " " + e.path());
        return null;
      }
      String head = e.type() + " " + e.path() + " ";
      return new ByteArrayOutputStream() {
        @Override
        public void close() {
          lines.add(head + HexFormat.of().formatHex(toByteArray()));
        }
      };
    }
  }

  private CanonicalLayerWriter writer() throws IOException {
    return new CanonicalLayerWriter(
        Files.createDirectories(tmp.resolve("out")), 1, 6, compressors.executor());
  }

  private static List<String> readBack(LayerBlob blob) throws IOException {
    Recording r = new Recording();
    try (InputStream in = Files.newInputStream(blob.file());
        LayerReader reader = LayerReader.of(in, "the layer")) {
      LayerEntry e;
      while ((e = reader.next()) != null) {
        OutputStream content = r.entry(e);
        if (content != null) {
          try (content;
              InputStream c = e.content().open()) {
            c.transferTo(content);
          }
        }
      }
    }
    return r.lines;
  }

  @Test
  void notesTakenWhileWritingAreThoseOfTheLayerReadBack() throws IOException {
    Path src = Files.writeString(tmp.resolve("status"), "Package: curl\n");
    byte[] big = new byte[700_000];
    new java.util.Random(7).nextBytes(big);
    Recording notes = new Recording();
    AtomicReference<Digest> handedOn = new AtomicReference<>();
    LayerBlob blob;
    try (CanonicalLayerWriter w =
        writer().takeNotes(notes, (diffId, taken) -> handedOn.set(diffId))) {
      // added out of order, with a streamed file, links, devices, whiteouts and a replaced path
      w.add(LayerEntry.file("var/lib/dpkg/status", 0644, src));
      w.add(LayerEntry.file("opt/app/app.jar", 0644, big));
      w.add(LayerEntry.file("usr/bin/tool", 0755, "#!/bin/sh".getBytes(UTF_8)));
      byte[] profile = "export A=1".getBytes(UTF_8);
      w.add(
          CanonicalLayerWriterTest.streamed("home/u/.profile", 0600, profile.length),
          new ByteArrayInputStream(profile));
      w.add(LayerEntry.hardlink("usr/bin/tool2", "usr/bin/tool"));
      w.add(LayerEntry.symlink("bin", "usr/bin"));
      w.add(LayerEntry.directory("tmp", 01777));
      w.add(LayerEntry.device("run/fifo", Type.FIFO, 0644, 0, 0));
      w.add(LayerEntry.file("etc/empty", 0644, new byte[0]));
      w.add(LayerEntry.whiteout("var/old"));
      w.add(LayerEntry.opaqueWhiteout("srv"));
      w.add(LayerEntry.file("etc/replaced", 0644, "first".getBytes(UTF_8)));
      w.add(LayerEntry.file("etc/replaced", 0644, "second".getBytes(UTF_8)));
      blob = w.finish();
    }
    assertThat(handedOn.get()).isEqualTo(blob.diffId());
    assertThat(notes.lines).hasSize((int) blob.entries());
    assertThat(notes.lines).containsExactlyElementsOf(readBack(blob));
    assertThat(notes.lines)
        .contains("FILE etc/replaced " + HexFormat.of().formatHex("second".getBytes(UTF_8)))
        .contains("HARDLINK usr/bin/tool2", "WHITEOUT var/old", "OPAQUE_WHITEOUT srv");
  }

  @Test
  void theNotesOfALayerWhoseInputChangedAreNeverHandedOn() throws IOException {
    Path src = Files.writeString(tmp.resolve("app.conf"), "a=1\n");
    Digest hashed = Digest.of("a=1\n".getBytes(UTF_8));
    Files.writeString(src, "a=2\n"); // edited after it was hashed for the key
    AtomicReference<Digest> handedOn = new AtomicReference<>();
    try (CanonicalLayerWriter w =
        writer().takeNotes(new Recording(), (diffId, taken) -> handedOn.set(diffId))) {
      w.add(
          LayerEntry.file(
              "etc/app.conf", 0644, Files.size(src), LayerEntry.Content.hashed(src, hashed)));
      assertThatThrownBy(w::finish).isInstanceOf(InputChangedException.class);
    }
    assertThat(handedOn.get()).isNull();
  }
}
