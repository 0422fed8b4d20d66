package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class VmdkWriterTest {
  private static final int MIB = 1 << 20;

  @TempDir Path dir;

  @Test
  void headerAndFooterFollowTheStreamOptimizedLayout() throws Exception {
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), 5 * MIB, 1);
    VmdkInfo info = VmdkWriter.defaults().write(raw, dir.resolve("disk.vmdk"));

    try (StreamOptimizedReader r = new StreamOptimizedReader(dir.resolve("disk.vmdk"))) {
      StreamOptimizedReader.Header h = r.header;
      assertThat(h.magic()).isEqualTo(0x564d444b);
      assertThat(h.version()).isEqualTo(3);
      assertThat(h.flags()).isEqualTo(0x30001); // newline test, compressed grains, markers
      assertThat(h.capacity()).isEqualTo(5 * MIB / 512);
      assertThat(h.grainSize()).isEqualTo(128);
      assertThat(h.gtesPerGt()).isEqualTo(512);
      assertThat(h.gdOffset()).isEqualTo(-1L); // GD_AT_END: the footer has it
      assertThat(h.rgdOffset()).isZero();
      assertThat(h.overhead()).isEqualTo(128);
      assertThat(h.descriptorOffset()).isEqualTo(1);
      assertThat(h.descriptorSize()).isEqualTo(20);
      assertThat(h.newlineChars()).containsExactly('\n', ' ', '\r', '\n');
      assertThat(h.compressAlgorithm()).isEqualTo(1);

      StreamOptimizedReader.Header f = r.footer;
      assertThat(f.gdOffset()).isPositive();
      assertThat(f).usingRecursiveComparison().ignoringFields("gdOffset").isEqualTo(h);

      List<String> kinds = r.stream.stream().map(StreamOptimizedReader.Item::kind).toList();
      assertThat(kinds).endsWith("gt", "gd", "footer", "eos");
      assertThat(kinds.stream().filter("grain"::equals).count()).isEqualTo(info.grains());
      StreamOptimizedReader.Item gd = r.stream.get(kinds.indexOf("gd"));
      assertThat(gd.sector() + 1).isEqualTo(f.gdOffset());
      assertThat(gd.value()).isEqualTo(1); // one GT → one GD sector
      assertThat(r.stream.get(kinds.indexOf("gt")).value()).isEqualTo(4);

      assertThat(r.descriptor)
          .startsWith("# Disk DescriptorFile\n")
          .contains("createType=\"streamOptimized\"")
          .contains("CID=" + info.cid() + "\n")
          .contains("parentCID=ffffffff")
          .contains("RW 10240 SPARSE \"disk.vmdk\"")
          .contains(
              "ddb.longContentID = \""
                  + info.contentId().hex().substring(8, 32)
                  + info.cid()
                  + "\"");

      assertThat(r.content()).isEqualTo(Files.readAllBytes(raw));
    }
    assertThat(info.capacityBytes()).isEqualTo(5 * MIB);
    assertThat(info.fileSize()).isEqualTo(Files.size(dir.resolve("disk.vmdk")));
    assertThat(info.cid()).matches("[0-9a-f]{8}");
  }

  @Test
  void zeroGrainsAreNotStoredAndEmptyGrainTablesAreLeftOut() throws Exception {
    // 96 MiB = 3 grain tables; data only in the third
    long size = 96L * MIB;
    Path raw = TestDisks.sparse(dir.resolve("sparse.raw"), size, 70L * MIB, 100_000);
    VmdkInfo info = VmdkWriter.defaults().write(raw, dir.resolve("sparse.vmdk"));

    assertThat(info.grains())
        .isEqualTo(2); // 100 000 bytes starting at 70 MiB touch two 64 KiB grains
    assertThat(info.populatedBytes()).isEqualTo(2 * 65536);
    assertThat(info.fileSize()).isLessThan(300_000);
    try (StreamOptimizedReader r = new StreamOptimizedReader(dir.resolve("sparse.vmdk"))) {
      assertThat(r.stream.stream().filter(i -> i.kind().equals("gt")).count()).isEqualTo(1);
      List<Long> lbas =
          r.stream.stream()
              .filter(i -> i.kind().equals("grain"))
              .map(StreamOptimizedReader.Item::value)
              .toList();
      assertThat(lbas).containsExactly(70L * MIB / 512, 70L * MIB / 512 + 128);
      byte[] content = r.content();
      assertThat(content).isEqualTo(Files.readAllBytes(raw));
    }
  }

  @ParameterizedTest
  @ValueSource(longs = {512, 1000, 65536 + 512, 3 * MIB + 4608, 32 * MIB + 65536 * 3 + 1})
  void oddSizesArePaddedToWholeSectorsAndGrains(long size) throws Exception {
    Path raw = TestDisks.withData(dir.resolve("odd.raw"), size, size);
    VmdkInfo info = VmdkWriter.defaults().write(raw, dir.resolve("odd.vmdk"));

    long sectors = (size + 511) / 512;
    assertThat(info.capacityBytes()).isEqualTo(sectors * 512);
    try (StreamOptimizedReader r = new StreamOptimizedReader(dir.resolve("odd.vmdk"))) {
      assertThat(r.footer.capacity()).isEqualTo(sectors);
      byte[] content = r.content();
      byte[] expected = Arrays.copyOf(Files.readAllBytes(raw), (int) (sectors * 512));
      assertThat(content).isEqualTo(expected);
    }
  }

  @Test
  void outputIsTheSameWhateverTheThreadsOrExecutor() throws Exception {
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), 40L * MIB, 7);
    Path a = dir.resolve("a/disk.vmdk");
    Path b = dir.resolve("b/disk.vmdk");
    Path c = dir.resolve("c/disk.vmdk");
    VmdkInfo ia = VmdkWriter.defaults().threads(1).write(raw, a);
    VmdkInfo ib = VmdkWriter.defaults().threads(4).write(raw, b);
    ExecutorService pool = Executors.newFixedThreadPool(3);
    VmdkInfo ic;
    try {
      ic = VmdkWriter.defaults().threads(2).executor(pool).write(raw, c);
    } finally {
      pool.shutdown();
    }
    assertThat(Files.readAllBytes(b)).isEqualTo(Files.readAllBytes(a));
    assertThat(Files.readAllBytes(c)).isEqualTo(Files.readAllBytes(a));
    assertThat(ib).isEqualTo(ia);
    assertThat(ic).isEqualTo(ia);
  }

  @Test
  void twoWritesAreBitIdentical() throws Exception {
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), 8L * MIB, 3);
    VmdkWriter w = VmdkWriter.defaults();
    w.write(raw, dir.resolve("one/disk.vmdk"));
    w.write(raw, dir.resolve("two/disk.vmdk"));
    assertThat(Files.readAllBytes(dir.resolve("two/disk.vmdk")))
        .isEqualTo(Files.readAllBytes(dir.resolve("one/disk.vmdk")));
  }

  @Test
  void contentIdFollowsTheContent() throws Exception {
    Path one = TestDisks.withData(dir.resolve("one.raw"), 4L * MIB, 1);
    Path two = TestDisks.withData(dir.resolve("two.raw"), 4L * MIB, 2);
    VmdkInfo a = VmdkWriter.defaults().write(one, dir.resolve("one.vmdk"));
    VmdkInfo b = VmdkWriter.defaults().write(two, dir.resolve("two.vmdk"));
    VmdkInfo again = VmdkWriter.defaults().write(one, dir.resolve("again.vmdk"));
    assertThat(a.contentId()).isNotEqualTo(b.contentId());
    assertThat(a.cid()).isNotEqualTo(b.cid());
    assertThat(again.contentId()).isEqualTo(a.contentId());
  }

  @Test
  void compressionLevelChangesSizeNotContent() throws Exception {
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), 4L * MIB, 5);
    VmdkInfo fast = VmdkWriter.defaults().compressionLevel(1).write(raw, dir.resolve("fast.vmdk"));
    VmdkInfo small =
        VmdkWriter.defaults().compressionLevel(9).write(raw, dir.resolve("small.vmdk"));
    assertThat(small.fileSize()).isLessThanOrEqualTo(fast.fileSize());
    assertThat(small.contentId()).isEqualTo(fast.contentId());
    try (StreamOptimizedReader r = new StreamOptimizedReader(dir.resolve("fast.vmdk"))) {
      assertThat(r.content()).isEqualTo(Files.readAllBytes(raw));
    }
  }

  @Test
  void anEmptyDiskIsRefusedAndLeavesNoFile() throws Exception {
    Path raw = Files.createFile(dir.resolve("empty.raw"));
    assertThatThrownBy(() -> VmdkWriter.defaults().write(raw, dir.resolve("empty.vmdk")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("is empty");
    assertThat(dir.resolve("empty.vmdk")).doesNotExist();
  }

  @Test
  void aMissingDiskLeavesNoPartialFile() {
    assertThatThrownBy(
            () -> VmdkWriter.defaults().write(dir.resolve("nope.raw"), dir.resolve("out.vmdk")))
        .isInstanceOf(IOException.class);
    assertThat(dir.resolve("out.vmdk")).doesNotExist();
  }

  @Test
  void badOptionsAreRefused() {
    assertThatThrownBy(() -> VmdkWriter.defaults().threads(0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> VmdkWriter.defaults().compressionLevel(10))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
