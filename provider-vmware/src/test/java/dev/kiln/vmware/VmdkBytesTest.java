package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The bytes of a small VMDK at each level class of zlib's header (0x78 0x01, 0x5e, 0x9c, 0xda), as
 * VmdkWriter wrote them when it deflated with the JDK's {@code new Deflater(level)} on standard
 * zlib (Debian 12's 1.2.13). A change of deflate engine must not change a byte of them: they are
 * what the OVA's manifest and signature cover.
 */
class VmdkBytesTest {
  @TempDir Path dir;

  @ParameterizedTest
  @CsvSource({
    "-1, 089f8bbb309e4ee4848d9a03ed88e24d4a90b50507d7b0f76f0b27553d360c94",
    "1, ed0f7b034482a41061db7112a7d9b742167ca2167a58465570953ae805652a0f",
    "4, 712102582453c046c403d1b846bcc1376fbe9dae6e9850af3f8cd9da2ef8a9ac",
    "9, b56425a4d13c1f4fa8ec045193abc21271314be97a13fa55762a11509f758991",
  })
  void theVmdkKeepsTheBytesOfStandardZlib(int level, String sha256) throws Exception {
    Path raw = TestDisks.withData(dir.resolve("disk.raw"), 3 * (1 << 20) + 4608, 5);
    Path vmdk = dir.resolve("disk.vmdk");
    VmdkWriter.defaults().threads(2).compressionLevel(level).write(raw, vmdk);
    assertThat(sha256(vmdk)).as("SHA-256 of the VMDK at level %s", level).isEqualTo(sha256);
  }

  static String sha256(Path file) throws Exception {
    MessageDigest d = MessageDigest.getInstance("SHA-256");
    return HexFormat.of().formatHex(d.digest(Files.readAllBytes(file)));
  }
}
