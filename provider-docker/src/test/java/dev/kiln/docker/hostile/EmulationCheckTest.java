package dev.kiln.docker.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.Platform;
import dev.kiln.docker.EmulationProbe;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A host that cannot emulate the platform a layer runs on gets a clear error saying why and how to
 * install emulation, never a container that dies with "exec format error".
 */
class EmulationCheckTest {
  @TempDir Path binfmt;

  @Test
  void binfmtNotMounted() {
    assertThat(EmulationProbe.problem(Platform.LINUX_ARM64, binfmt.resolve("absent")))
        .contains("binfmt_misc is not mounted");
  }

  @Test
  void noHandlerRegistered() throws Exception {
    Files.writeString(binfmt.resolve("status"), "enabled\n");
    assertThat(EmulationProbe.problem(Platform.LINUX_ARM64, binfmt))
        .contains("no binfmt_misc handler qemu-aarch64 is registered");
  }

  @Test
  void handlerDisabled() throws Exception {
    Files.writeString(binfmt.resolve("status"), "enabled\n");
    Files.writeString(
        binfmt.resolve("qemu-aarch64"),
        "disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n");
    assertThat(EmulationProbe.problem(Platform.LINUX_ARM64, binfmt)).contains("is disabled");
  }

  @Test
  void handlerWithoutFixBinaryFlag() throws Exception {
    Files.writeString(binfmt.resolve("status"), "enabled\n");
    Files.writeString(
        binfmt.resolve("qemu-aarch64"),
        "enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: P\n");
    assertThat(EmulationProbe.problem(Platform.LINUX_ARM64, binfmt))
        .contains("lacks the fix-binary flag F");
  }

  @Test
  void aUsableHandler() throws Exception {
    Files.writeString(binfmt.resolve("status"), "enabled\n");
    Files.writeString(
        binfmt.resolve("qemu-aarch64"),
        "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n");
    assertThat(EmulationProbe.problem(Platform.LINUX_ARM64, binfmt)).isNull();
  }

  @Test
  void theErrorSaysHowToInstall() {
    assertThat(EmulationProbe.check(Platform.LINUX_ARM64, Platform.LINUX_AMD64, binfmt))
        .contains("linux/arm64")
        .contains("apt-get install qemu-user-static binfmt-support")
        .contains("update-binfmts --enable qemu-aarch64");
    assertThat(EmulationProbe.check(Platform.LINUX_AMD64, Platform.LINUX_AMD64, binfmt)).isNull();
  }
}
