package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.BakeResult;
import dev.kiln.Kiln;
import dev.kiln.testing.BakeMain;
import dev.kiln.testing.Jvm;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Writers of one target in other processes: a writer killed with kill -9 in the middle of an
 * archive leaves a temp file that the next bake of the target removes (and a live writer's temp
 * file is left alone); several processes publishing into one OCI layout all land their tags.
 */
class KilledTargetWriterIT {
  @TempDir Path tmp;

  private static List<Path> tempFilesBeside(Path file) throws IOException {
    try (Stream<Path> s = Files.list(file.getParent())) {
      return s.filter(p -> p.getFileName().toString().startsWith("." + file.getFileName() + "."))
          .toList();
    }
  }

  private static void awaitLine(Process p, Path log, String line) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
    while (!Files.readString(log).lines().anyMatch(line::equals)) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        throw new AssertionError(
            "the writer did not reach '" + line + "':\n" + Files.readString(log));
      }
      Thread.sleep(20);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"oci-archive", "docker-archive"})
  void aWriterKilledMidArchiveLeavesATempFileTheNextBakeRemoves(String scheme) throws Exception {
    Path in = tmp.resolve("in");
    Path archive = tmp.resolve("out/image.tar");
    String target = scheme + ":" + archive;
    Path log = tmp.resolve("writer.log");
    Process writer =
        Jvm.start(
            StalledArchiveWriterMain.class,
            log,
            tmp.resolve("store-child").toString(),
            in.toString(),
            target);
    try {
      awaitLine(writer, log, "stalled");
      List<Path> partial = tempFilesBeside(archive);
      assertThat(partial).as("the live writer's temp file").hasSize(1);
      assertThat(Files.size(partial.get(0))).isPositive();
      try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
        // a bake while the writer lives: its temp file is not ours to remove
        BakeResult r = kiln.bake(StalledArchiveWriterMain.definition(in), target);
        assertThat(r.published().get(target).reused()).isFalse();
        assertThat(tempFilesBeside(archive))
            .as("a live writer's temp file is kept")
            .containsExactlyElementsOf(partial);

        writer.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        assertThat(tempFilesBeside(archive))
            .as("kill -9 leaves the temp file")
            .containsExactlyElementsOf(partial);

        BakeResult again = kiln.bake(StalledArchiveWriterMain.definition(in), target);
        assertThat(again.published().get(target).reused()).isTrue();
        assertThat(tempFilesBeside(archive)).as("a dead writer's temp file is removed").isEmpty();
      }
    } finally {
      writer.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }
    String skopeo = Tools.require("skopeo", "skopeo");
    Tools.run(skopeo, "inspect", scheme + ":" + archive).ok();
  }

  @Test
  void severalProcessesPublishingIntoOneLayoutAllLandTheirTags() throws Exception {
    Path tree = Files.createDirectories(tmp.resolve("tree/1-files"));
    Files.writeString(tree.resolve("f.txt"), "shared");
    Path layout = tmp.resolve("layout");
    List<Process> ps = new ArrayList<>();
    List<Path> logs = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Path log = tmp.resolve("baker-" + i + ".log");
      logs.add(log);
      List<String> args =
          new ArrayList<>(
              List.of(tmp.resolve("store-" + i).toString(), tmp.resolve("tree").toString()));
      for (int t = 0; t < 4; t++) {
        args.add("oci:" + layout + ":p" + i + "-" + t);
      }
      ps.add(Jvm.start(BakeMain.class, log, args.toArray(String[]::new)));
    }
    for (int i = 0; i < ps.size(); i++) {
      assertThat(ps.get(i).waitFor(5, TimeUnit.MINUTES)).isTrue();
      assertThat(ps.get(i).exitValue()).as(Files.readString(logs.get(i))).isZero();
    }
    Set<String> tags = new HashSet<>();
    for (JsonNode m :
        new ObjectMapper().readTree(layout.resolve("index.json").toFile()).path("manifests")) {
      tags.add(m.path("annotations").path("org.opencontainers.image.ref.name").asText());
    }
    assertThat(tags).hasSize(12);
  }
}
