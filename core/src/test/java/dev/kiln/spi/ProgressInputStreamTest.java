package dev.kiln.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressInputStreamTest {
  @Test
  void countsEveryByteReadIntoASharedTotalAndReportsIt() throws IOException {
    AtomicLong total = new AtomicLong();
    List<Long> reports = new ArrayList<>();
    try (InputStream in =
        new ProgressInputStream(new ByteArrayInputStream(new byte[10]), total, reports::add)) {
      assertThat(in.read()).isZero();
      assertThat(in.read(new byte[4], 0, 4)).isEqualTo(4);
      assertThat(in.readAllBytes()).hasSize(5);
      assertThat(in.read()).isEqualTo(-1);
    }
    // a second attempt over the same counter adds to it
    try (InputStream again =
        new ProgressInputStream(new ByteArrayInputStream(new byte[3]), total, reports::add)) {
      again.transferTo(java.io.OutputStream.nullOutputStream());
    }
    assertThat(total).hasValue(13);
    assertThat(reports).startsWith(1L, 5L).endsWith(13L).isSorted();
  }
}
