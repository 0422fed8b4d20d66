package dev.kiln.disk;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class Crc32cTest {
  @Test
  void rawFormMatchesTheJdkWithInversions() {
    byte[] data = "The quick brown fox jumps over the lazy dog".getBytes(StandardCharsets.US_ASCII);
    CRC32C jdk = new CRC32C();
    jdk.update(data);
    assertThat(~Crc32c.update(~0, data) & 0xffffffffL).isEqualTo(jdk.getValue());
  }

  @Test
  void chainsLikeOneCall() {
    byte[] data = {1, 2, 3, 4, 5, 6, 7, 8};
    int whole = Crc32c.update(0x1234, data);
    int split = Crc32c.update(Crc32c.update(0x1234, data, 0, 3), data, 3, 5);
    assertThat(split).isEqualTo(whole);
    assertThat(Crc32c.updateInt(0x1234, 0x04030201)).isEqualTo(Crc32c.update(0x1234, data, 0, 4));
  }
}
