package dev.kiln.examples.quickstart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quickstart runs as the README's first command does, into a store of its own, and twice is a
 * no-op.
 */
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
    assertThat(a)
        .contains("skopeo inspect")
        .contains("\n  docker load -i " + tmp.resolve("out/quickstart.docker.tar") + "\n")
        .contains("\n  docker run --rm kiln/quickstart:latest\n");
    assertThat(a).contains("2 built"); // app and config on an empty base: nothing from the host
    assertThat(tmp.resolve("out/quickstart.oci.tar")).exists();
  }

  @Test
  void theAppIsAStaticExecutableThatPrintsItsFileOrSaysItCannot() throws Exception {
    assumeTrue(
        System.getProperty("os.name").equals("Linux")
            && System.getProperty("os.arch").equals("amd64"),
        "runs an x86-64 Linux executable");
    Path greeting = tmp.resolve("greeting");
    String text = "line\n".repeat(2000); // more than one read
    Files.writeString(greeting, text);
    byte[] elf = HelloElf.x8664(greeting.toString());
    assertThat(elf.length).isLessThan(512);
    assertThat(HelloElf.x8664(greeting.toString())).isEqualTo(elf);
    Path exe = tmp.resolve("hello");
    Files.write(exe, elf);
    exe.toFile().setExecutable(true);

    Process ok = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
    assertThat(new String(ok.getInputStream().readAllBytes(), StandardCharsets.UTF_8))
        .isEqualTo(text);
    assertThat(ok.waitFor()).isZero();

    Files.delete(greeting);
    Process missing = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
    assertThat(new String(missing.getInputStream().readAllBytes(), StandardCharsets.UTF_8))
        .isEqualTo("hello: cannot print " + greeting + "\n");
    assertThat(missing.waitFor()).isEqualTo(1);
  }
}
