package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.InvalidTargetException;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.Target;
import dev.kiln.disk.DiskOptions;
import dev.kiln.disk.DiskParameters;
import dev.kiln.disk.DiskTarget;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad {@code disk.NAME} parameters in a disk target: each is refused before anything is built or
 * written, with a message that names the parameter and says what it expects (for a value {@link
 * DiskOptions} refuses, its own message).
 */
class DiskTargetParametersHostileTest {
  @TempDir Path tmp;

  static Stream<Arguments> badParameters() {
    return Stream.of(
        Arguments.of(
            "disk.size=12345",
            "disk.size=12345: disk size must be a positive multiple of 1 MiB: 12345"),
        Arguments.of("disk.size=0", "disk size must be a positive multiple of 1 MiB: 0"),
        Arguments.of(
            "disk.size=big",
            "disk.size= expects a size in bytes or with a unit K, M, G or T (512M, 8G), found 'big'"),
        Arguments.of("disk.size=-1G", "disk.size= expects a size in bytes"),
        Arguments.of("disk.size=99999999999T", "disk.size= is too large: '99999999999T'"),
        Arguments.of("disk.size=", "disk.size= expects a size in bytes"),
        Arguments.of(
            "disk.espSize=16M", "ESP size must be a multiple of 1 MiB, at least 34 MiB: 16777216"),
        Arguments.of("disk.freeSpace=lots", "disk.freeSpace= expects a size"),
        Arguments.of(
            "disk.kernelArgs=a%22b",
            "kernel argument must be non-blank without quotes, backslashes or newlines: a\"b"),
        Arguments.of(
            "disk.kernelArgs=x+a%5Cb",
            "kernel argument must be non-blank without quotes, backslashes or newlines: a\\b"),
        Arguments.of("disk.consoles=yes", "disk.consoles= expects true or false, found 'yes'"),
        Arguments.of("disk.dataOnly=1", "disk.dataOnly= expects true or false, found '1'"),
        Arguments.of(
            "disk.timestamp=soon", "disk.timestamp= expects seconds since the epoch, found 'soon'"),
        Arguments.of("disk.timestamp=99999999999", "timestamp out of range: 99999999999"),
        Arguments.of(
            "disk.sise=1G",
            "unknown disk parameter 'disk.sise': expected one of [disk.size, disk.freeSpace,"),
        Arguments.of("size=1G", "unknown disk parameter 'size'"),
        Arguments.of("disk.size=1G&disk.size=2G", "disk parameter 'disk.size' given twice"),
        Arguments.of("disk.size=%zz", "bad percent-encoding in '%zz'"));
  }

  @ParameterizedTest
  @MethodSource("badParameters")
  void aBadParameterIsAClearErrorAndNothingIsWritten(String query, String message)
      throws Exception {
    Path out = tmp.resolve("out.img");
    String target = "raw:" + out + "?" + query;
    assertThatThrownBy(() -> DiskTarget.parse(Target.parse(target)))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageStartingWith(target + ": ")
        .hasMessageContaining(message);
    try (Kiln kiln = Kiln.builder().store(tmp.resolve("store")).build()) {
      ImageBuild build =
          ImageBuild.from(Base.scratch())
              .layer(
                  Layer.files("etc")
                      .content("/etc/hostname", "x\n".getBytes(StandardCharsets.UTF_8), 0644));
      assertThatThrownBy(() -> kiln.bake(build, target, "oci:" + tmp.resolve("layout")))
          .isInstanceOf(InvalidTargetException.class)
          .hasMessageContaining(message);
    }
    // refused before anything was built: no disk, not even the other target's output
    assertThat(out).doesNotExist();
    assertThat(tmp.resolve("layout")).doesNotExist();
    try (Stream<Path> s = Files.list(tmp)) {
      assertThat(s.map(p -> p.getFileName().toString())).doesNotContain("out.img?" + query);
    }
  }

  @Test
  void aQuestionMarkWithoutAPathIsRefused() {
    assertThatThrownBy(() -> DiskTarget.parse(Target.parse("raw:?disk.size=1G")))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessage("expected a file path before the disk parameters, found raw:?disk.size=1G");
  }

  @Test
  void theParserRefusesNamesOutsideTheList() {
    DiskParameters p = DiskParameters.create().put("disk.size", "1G");
    assertThat(p.options().size().getAsLong()).isEqualTo(1L << 30);
    assertThatThrownBy(() -> p.put("disk.bootMode", "bios"))
        .isInstanceOf(InvalidTargetException.class)
        .hasMessageContaining("unknown disk parameter 'disk.bootMode'");
  }
}
