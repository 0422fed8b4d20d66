package dev.kiln.testing;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.kiln.Digest;
import dev.kiln.spi.FileStat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;

/**
 * Writes a store's stat index that gives a file its current stat with another digest: what an edit
 * within one timestamp tick of its hashing leaves behind. The line is well formed (the current
 * format, its CRC right), as Kiln itself would have written it.
 */
public final class StaleStatIndex {
  private StaleStatIndex() {}

  public static void write(Path store, Path file, Digest digest) throws IOException {
    Path abs = file.toAbsolutePath().normalize();
    FileStat st = FileStat.lstat(abs);
    String line =
        st.size()
            + " "
            + st.mtimeNanos()
            + " "
            + st.inode()
            + " "
            + st.ctimeNanos()
            + " "
            + digest.hex()
            + " "
            + abs;
    CRC32 crc = new CRC32();
    crc.update(line.getBytes(UTF_8));
    Files.createDirectories(store.resolve("stat"));
    Files.writeString(
        store.resolve("stat/index"),
        "kiln-stat-index 2\n" + String.format("%08x", crc.getValue()) + " " + line + "\n",
        UTF_8);
  }
}
