package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlockDiffTest {
  @TempDir Path tmp;

  @Test
  void countsThe512KiBBlocksThatDiffer() throws Exception {
    Path a = tmp.resolve("a.img");
    Path b = tmp.resolve("b.img");
    try (RandomAccessFile x = new RandomAccessFile(a.toFile(), "rw");
        RandomAccessFile y = new RandomAccessFile(b.toFile(), "rw")) {
      x.setLength(8L << 20);
      y.setLength(9L << 20); // one more block, zero: not a difference
      y.seek(3L * BlockDiff.EBS_BLOCK + 17);
      y.write(1);
      y.seek(5L * BlockDiff.EBS_BLOCK - 1); // last byte of block 4
      y.write(2);
      y.seek(5L * BlockDiff.EBS_BLOCK); // first byte of block 5
      y.write(3);
    }
    BlockDiff d = BlockDiff.compare(a, b);
    assertThat(d.blocks()).isEqualTo(18);
    assertThat(d.changed().stream().boxed()).containsExactly(3, 4, 5);
    assertThat(d.changedBytes()).isEqualTo(3L * 512 * 1024);
    assertThat(BlockDiff.compare(a, a).changedBlocks()).isZero();
  }
}
