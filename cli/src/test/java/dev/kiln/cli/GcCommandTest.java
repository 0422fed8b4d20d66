package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code kiln gc}: a dry run lists and keeps, a run under a size limit removes, bad options. */
class GcCommandTest {
  @TempDir Path dir;

  private List<BakeResult> bakeFive(Path store) throws Exception {
    List<BakeResult> out = new ArrayList<>();
    try (Kiln k = Kiln.builder().store(store).gc(dev.kiln.GcPolicy.none()).build()) {
      for (int i = 0; i < 5; i++) {
        byte[] data = new byte[256 << 10];
        new java.util.Random(i).nextBytes(data);
        out.add(
            k.bake(
                ImageBuild.from(Base.scratch())
                    .layer(Layer.files("data").content("/data.bin", data, 0644)),
                "oci:" + dir.resolve("out" + i) + ":t"));
      }
    }
    return out;
  }

  private static long blobBytes(Path store) throws Exception {
    try (Stream<Path> s = Files.walk(store.resolve("blobs"))) {
      return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    }
  }

  @Test
  void aDryRunListsWhatARunUnderASizeLimitThenRemoves() throws Exception {
    Path store = dir.resolve("store");
    List<BakeResult> baked = bakeFive(store);
    long before = blobBytes(store);

    CliRun dry = CliRun.kiln("gc", "--store", store.toString(), "--max-size", "600K", "--dry-run");
    assertThat(dry.code()).as(dry.toString()).isZero();
    assertThat(dry.outLines()).anyMatch(l -> l.startsWith("would remove\timage\t"));
    assertThat(dry.outLines().get(dry.outLines().size() - 1)).contains(": would remove ");
    assertThat(blobBytes(store)).isEqualTo(before);

    String pinned = baked.get(0).digest().toString();
    CliRun run =
        CliRun.kiln(
            "gc", "--store", store.toString(), "--max-size", "600K", "--pin", pinned, "--verbose");
    assertThat(run.code()).as(run.toString()).isZero();
    assertThat(run.outLines()).anyMatch(l -> l.startsWith("removed\timage\t"));
    assertThat(run.outLines()).anyMatch(l -> l.startsWith("kept\timage\t" + pinned));
    assertThat(blobBytes(store)).isLessThanOrEqualTo(600L << 10).isLessThan(before);
  }

  @Test
  void badOptionsAndAMissingStoreAreUsageAndNotFound() {
    Path store = dir.resolve("none");
    CliRun missing = CliRun.kiln("gc", "--store", store.toString());
    assertThat(missing.code()).as(missing.toString()).isEqualTo(Exit.NOT_FOUND);
    assertThat(Files.exists(store)).as("gc must not create a store").isFalse();

    CliRun size = CliRun.kiln("gc", "--store", store.toString(), "--max-size", "lots");
    assertThat(size.code()).isEqualTo(Exit.USAGE);
    assertThat(size.err()).contains("--max-size takes a size");

    CliRun pin = CliRun.kiln("gc", "--store", store.toString(), "--pin", "latest");
    assertThat(pin.code()).isEqualTo(Exit.USAGE);
    assertThat(pin.err()).contains("--pin takes sha256:");

    CliRun days = CliRun.kiln("gc", "--store", store.toString(), "--unused-days", "0");
    assertThat(days.code()).isEqualTo(Exit.USAGE);
  }

  @Test
  void sizesUseBinaryUnits() {
    assertThat(GcCommand.bytes("1048576")).isEqualTo(1L << 20);
    assertThat(GcCommand.bytes("500M")).isEqualTo(500L << 20);
    assertThat(GcCommand.bytes("20g")).isEqualTo(20L << 30);
    assertThat(GcCommand.bytes("1TiB")).isEqualTo(1L << 40);
    assertThat(GcCommand.bytes("3 KB")).isEqualTo(3L << 10);
  }
}
