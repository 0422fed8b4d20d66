package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The comparisons the other tests trust. */
class TestDisksTest {
  @TempDir Path dir;

  @Test
  void mismatchAndDifferingBlocksSeeOneChangedByte() throws Exception {
    Path a = TestDisks.randomSparse(dir.resolve("a"), 8 * TestDisks.MIB, 3, 1);
    Path b = TestDisks.sparseCopy(a, dir.resolve("b"));
    assertThat(TestDisks.mismatch(a, b)).isEqualTo(-1L);
    assertThat(TestDisks.differingBlocks(a, b)).isEmpty();
    TestDisks.write(b, 5 * TestDisks.MIB + 3, new byte[] {42});
    assertThat(TestDisks.mismatch(a, b)).isEqualTo(5 * TestDisks.MIB + 3);
    assertThat(TestDisks.differingBlocks(a, b)).containsExactly(10);
    Path shorter = TestDisks.sparse(dir.resolve("c"), 4 * TestDisks.MIB);
    assertThat(TestDisks.mismatch(TestDisks.sparse(dir.resolve("d"), 8 * TestDisks.MIB), shorter))
        .isEqualTo(4 * TestDisks.MIB);
  }
}
