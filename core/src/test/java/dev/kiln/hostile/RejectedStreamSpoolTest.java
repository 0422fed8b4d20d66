package dev.kiln.hostile;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.internal.tar.CanonicalLayerWriter;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stream handed to the layer writer that is shorter or longer than its entry declares is refused;
 * the writer stays usable, and the entries added after it hold exactly their own bytes, not the
 * leftovers of the refused stream.
 */
class RejectedStreamSpoolTest {
  @TempDir Path tmp;

  @Test
  void entriesAfterARefusedStreamKeepTheirOwnContent() throws IOException {
    LayerBlob blob;
    try (CanonicalLayerWriter w = new CanonicalLayerWriter(tmp, 1, 6, Runnable::run)) {
      add(w, "a", "first");
      assertThatThrownBy(() -> w.add(declared("short", 10), stream("four")))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("'short' ended after 4 of its 10 bytes");
      add(w, "b", "second");
      assertThatThrownBy(() -> w.add(declared("long", 2), stream("longer")))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("'long' is longer than its declared 2 bytes");
      add(w, "c", "third");
      blob = w.finish();
    }
    assertThat(contents(blob.file()))
        .containsExactly(
            Map.entry("a", "first"), Map.entry("b", "second"), Map.entry("c", "third"));
  }

  private static void add(CanonicalLayerWriter w, String path, String content) throws IOException {
    w.add(declared(path, content.length()), stream(content));
  }

  /** A file entry whose content comes from the stream given with it. */
  private static LayerEntry declared(String path, long size) {
    return LayerEntry.file(
        path,
        0644,
        size,
        () -> {
          throw new IOException("streamed content is read from the stream");
        });
  }

  private static InputStream stream(String s) {
    return new ByteArrayInputStream(s.getBytes(UTF_8));
  }

  private static Map<String, String> contents(Path layer) throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    try (LayerReader r = LayerReader.open(layer)) {
      LayerEntry e;
      while ((e = r.next()) != null) {
        try (InputStream in = e.content().open()) {
          out.put(e.path(), new String(in.readAllBytes(), UTF_8));
        }
      }
    }
    return out;
  }
}
