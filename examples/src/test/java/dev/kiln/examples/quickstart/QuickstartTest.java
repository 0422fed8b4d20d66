package dev.kiln.examples.quickstart;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The quickstart runs as the README's first command does, into a store of its own, and twice is a no-op. */
class QuickstartTest {
  @TempDir Path tmp;

  @Test
  void bakesAndThenFindsEverythingCached() throws Exception {
    System.setProperty("kiln.store", tmp.resolve("store").toString());
    PrintStream saved = System.out;
    ByteArrayOutputStream first = new ByteArrayOutputStream();
    ByteArrayOutputStream second = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(first, true));
      Quickstart.main(new String[] {tmp.resolve("out").toString()});
      System.setOut(new PrintStream(second, true));
      Quickstart.main(new String[] {tmp.resolve("out").toString()});
    } finally {
      System.setOut(saved);
      System.clearProperty("kiln.store");
    }
    String a = first.toString();
    String b = second.toString();
    String digest = a.lines().filter(l -> l.startsWith("image digest: ")).findFirst().orElseThrow();
    assertThat(digest).matches("image digest: sha256:[0-9a-f]{64}");
    assertThat(b).contains(digest).contains("0 built").contains("already there, nothing sent");
    assertThat(a).contains("docker load -i").contains("skopeo inspect");
    assertThat(tmp.resolve("out/quickstart.oci.tar")).exists();
  }
}
