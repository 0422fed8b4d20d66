package dev.kiln.examples.quickstart;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.testing.Tools;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quickstart's image runs as printed: the {@code docker load} and {@code docker run} lines it
 * prints at the end are run word for word against the real Docker daemon, and the container prints
 * the greeting of the config layer. Nothing comes from the host: the base is empty and the
 * executable is written by the quickstart itself.
 */
class QuickstartIT {
  @TempDir Path tmp;
  // a name of this run's own: other builds share the daemon
  final String image = "kiln-quickstart-it/" + UUID.randomUUID() + ":latest";

  @AfterEach
  void removeImage() {
    Tools.run("docker", "rmi", "-f", image);
  }

  @Test
  void thePrintedDockerLoadAndRunLinesPrintTheGreeting() throws Exception {
    Tools.requireDocker();
    Path out = tmp.resolve("out");
    String printed = runQuickstart(out.toString(), image);

    List<String> docker =
        printed.lines().filter(l -> l.startsWith("  docker ")).map(String::strip).toList();
    assertThat(docker)
        .containsExactly(
            "docker load -i " + out.resolve("quickstart.docker.tar"), "docker run --rm " + image);
    Tools.Result load = Tools.run(words(docker.get(0))).ok();
    assertThat(load.output()).contains(image);
    Tools.Result run = Tools.run(words(docker.get(1))).ok();
    assertThat(run.output()).isEqualTo(Quickstart.GREETING);
  }

  private static List<String> words(String line) {
    assertThat(line).doesNotContain("'").doesNotContain("\"").doesNotContain("\\");
    return Arrays.asList(line.split(" +"));
  }

  private String runQuickstart(String... args) throws Exception {
    String savedStore = System.getProperty("kiln.store");
    System.setProperty("kiln.store", tmp.resolve("store").toString());
    PrintStream saved = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(buf, true));
      Quickstart.main(args);
    } finally {
      System.setOut(saved);
      if (savedStore == null) {
        System.clearProperty("kiln.store");
      } else {
        System.setProperty("kiln.store", savedStore);
      }
    }
    return buf.toString();
  }
}
