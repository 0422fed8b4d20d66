package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.testing.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several publishers into one OCI layout in one JVM: the targets of one bake run in parallel, and
 * separate {@code Kiln}s may run in separate threads. A file lock does not exclude threads of one
 * JVM; every tag must land.
 */
class SharedLayoutPublishTest {
  @TempDir Path tmp;

  private static Map<String, String> tags(Path layout) throws IOException {
    Map<String, String> out = new HashMap<>();
    for (JsonNode m :
        new ObjectMapper().readTree(layout.resolve("index.json").toFile()).path("manifests")) {
      out.put(
          m.path("annotations").path("org.opencontainers.image.ref.name").asText(),
          m.path("digest").asText());
    }
    return out;
  }

  private ImageBuild build(String name, String content) throws IOException {
    Path f =
        Files.writeString(
            Files.createDirectories(tmp.resolve("in-" + name)).resolve("f.txt"), content);
    return ImageBuild.from(Base.scratch()).layer(Layer.files(name).add(f, "/f.txt"));
  }

  @Test
  void manyTagsOfOneLayoutInOneBakeAllLand() throws Exception {
    ImageBuild b = build("one", "one");
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      for (int round = 0; round < 4; round++) {
        Path d = tmp.resolve("layout-" + round);
        List<String> targets = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
          targets.add("oci:" + d + ":t" + i);
        }
        BakeResult r = kiln.bake(b, targets.toArray(String[]::new));
        assertThat(r.published()).hasSize(12);
        Map<String, String> tags = tags(d);
        assertThat(tags).as("tags in " + d).hasSize(12);
        assertThat(tags.values()).containsOnly(r.digest().toString());
      }
    }
  }

  @Test
  void separateKilnsInThreadsPublishingIntoOneLayoutAllLand() throws Exception {
    int threads = 6;
    Path d = tmp.resolve("layout");
    List<ImageBuild> builds = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      builds.add(build("b" + i, "content " + i));
    }
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<BakeResult>> fs = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        int n = i;
        fs.add(
            pool.submit(
                () -> {
                  try (Kiln kiln = Kiln.builder().store(tmp.resolve("store-" + n)).build()) {
                    kiln.bake(builds.get(n)); // provision first, so the publishes below overlap
                    start.await(60, TimeUnit.SECONDS);
                    return kiln.bake(builds.get(n), "oci:" + d + ":t" + n, "oci:" + d + ":u" + n);
                  }
                }));
      }
      Map<String, String> expected = new HashMap<>();
      for (int i = 0; i < threads; i++) {
        String digest = fs.get(i).get(120, TimeUnit.SECONDS).digest().toString();
        expected.put("t" + i, digest);
        expected.put("u" + i, digest);
      }
      assertThat(tags(d)).isEqualTo(expected);
    } finally {
      pool.shutdownNow();
    }
    String skopeo = Tools.require("skopeo", "skopeo");
    for (int i = 0; i < threads; i++) {
      Tools.run(skopeo, "copy", "oci:" + d + ":t" + i, "dir:" + tmp.resolve("copy-" + i)).ok();
    }
  }
}
