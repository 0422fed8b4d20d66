package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.spi.RemoteCache;
import org.junit.jupiter.api.Test;

class KilnEnvironmentTest {
  @Test
  void remoteCacheModesParseFromEveryEnvironmentSpelling() {
    assertThat(KilnEnvironment.mode("read-write")).isEqualTo(RemoteCache.Mode.READ_WRITE);
    assertThat(KilnEnvironment.mode(" RW ")).isEqualTo(RemoteCache.Mode.READ_WRITE);
    assertThat(KilnEnvironment.mode("read_only")).isEqualTo(RemoteCache.Mode.READ_ONLY);
    assertThat(KilnEnvironment.mode("ro")).isEqualTo(RemoteCache.Mode.READ_ONLY);
    assertThat(KilnEnvironment.mode("Write-Only")).isEqualTo(RemoteCache.Mode.WRITE_ONLY);
    assertThat(KilnEnvironment.mode("wo")).isEqualTo(RemoteCache.Mode.WRITE_ONLY);
    assertThatThrownBy(() -> KilnEnvironment.mode("readonly"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("remote cache mode 'readonly': expected read-write, read-only or write-only");
  }
}
