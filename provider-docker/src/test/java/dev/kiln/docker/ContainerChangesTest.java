package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.docker.ContainerChanges.Change;
import dev.kiln.docker.ContainerChanges.Kind;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerReader;
import dev.kiln.spi.LayerWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ContainerChangesTest {

  /** Records what a provider adds, with file contents read at once. */
  static final class RecordingWriter implements LayerWriter {
    final Map<String, LayerEntry> entries = new TreeMap<>();
    final Map<String, String> contents = new TreeMap<>();

    @Override
    public void add(LayerEntry entry) {
      entries.put(key(entry), entry);
    }

    @Override
    public void add(LayerEntry entry, InputStream content) throws IOException {
      entries.put(key(entry), entry);
      contents.put(entry.path(), new String(content.readAllBytes(), StandardCharsets.UTF_8));
    }

    private static String key(LayerEntry e) {
      return e.path() + (e.type() == LayerEntry.Type.WHITEOUT ? " (whiteout)" : "");
    }

    @Override
    public LayerBlob finish() {
      throw new UnsupportedOperationException();
    }

    @Override
    public void close() {}
  }

  /** An exported file system: name → (type, content/link). */
  static Path export(Path dir, String... spec) throws IOException {
    Path tar = dir.resolve("export.tar");
    try (OutputStream os = Files.newOutputStream(tar);
        TarArchiveOutputStream t = new TarArchiveOutputStream(os)) {
      t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (String s : spec) {
        String[] f = s.split(" ", 3);
        String name = f[1];
        switch (f[0]) {
          case "d" -> {
            TarArchiveEntry e = new TarArchiveEntry(name + "/");
            e.setMode(f.length > 2 ? 040000 | Integer.parseInt(f[2], 8) : 040755);
            t.putArchiveEntry(e);
          }
          case "f" -> {
            byte[] b = (f.length > 2 ? f[2] : "").getBytes(StandardCharsets.UTF_8);
            TarArchiveEntry e = new TarArchiveEntry(name);
            e.setMode(0100644);
            e.setSize(b.length);
            t.putArchiveEntry(e);
            t.write(b);
          }
          case "l" -> {
            TarArchiveEntry e = new TarArchiveEntry(name, TarArchiveEntry.LF_SYMLINK);
            e.setLinkName(f[2]);
            t.putArchiveEntry(e);
          }
          case "h" -> {
            TarArchiveEntry e = new TarArchiveEntry(name, TarArchiveEntry.LF_LINK);
            e.setLinkName(f[2]);
            e.setMode(0100644);
            t.putArchiveEntry(e);
          }
          default -> throw new IllegalArgumentException(s);
        }
        t.closeArchiveEntry();
      }
    }
    return tar;
  }

  static Change c(String path, Kind kind) {
    return new Change(path, kind);
  }

  @Test
  void keepsWhatTheCommandsChangedAndDropsWhatDockerDid(@TempDir Path tmp) throws Exception {
    Path tar =
        export(
            tmp,
            "f .dockerenv",
            "d app",
            "f app/new.txt new",
            "f app/config.txt edited",
            "d etc",
            "f etc/hosts 127.0.0.1",
            "f etc/hostname abc",
            "d run",
            "d run/secrets",
            "f run/secrets/token",
            "d tmp 1777",
            "d tmp/in",
            "f tmp/in/x.txt",
            "f tmp/made-by-command hi",
            "d var",
            "d var/cache",
            "d proc",
            "d dev",
            "f dev/console");
    List<Change> diff =
        List.of(
            c("/app", Kind.CHANGED),
            c("/app/new.txt", Kind.ADDED),
            c("/app/config.txt", Kind.CHANGED),
            c("/app/old.txt", Kind.DELETED),
            c("/etc", Kind.CHANGED),
            c("/etc/mtab", Kind.DELETED),
            c("/run", Kind.ADDED),
            c("/run/secrets", Kind.ADDED),
            c("/run/secrets/token", Kind.ADDED),
            c("/tmp", Kind.CHANGED),
            c("/tmp/in", Kind.ADDED),
            c("/tmp/in/x.txt", Kind.ADDED),
            c("/tmp/made-by-command", Kind.ADDED),
            c("/var", Kind.CHANGED),
            c("/var/cache", Kind.CHANGED));
    ContainerChanges cc =
        new ContainerChanges(diff, List.of("/run/secrets/token", "/tmp/in/x.txt"));
    RecordingWriter w = new RecordingWriter();
    try (LayerReader r = LayerReader.open(tar)) {
      assertThat(cc.write(r, w)).isEmpty();
    }
    assertThat(w.entries.keySet())
        .containsExactly(
            "app",
            "app/config.txt",
            "app/new.txt",
            "app/old.txt (whiteout)",
            "etc",
            "tmp",
            "tmp/made-by-command",
            "var",
            "var/cache");
    assertThat(w.entries.get("tmp").mode()).isEqualTo(01777);
    assertThat(w.contents)
        .containsEntry("app/new.txt", "new")
        .containsEntry("app/config.txt", "edited");
  }

  @Test
  void directoryThatOnlyHoldsAMountPointIsDroppedEvenWhenDockerSaysChanged(@TempDir Path tmp)
      throws Exception {
    Path tar = export(tmp, "d tmp 1777", "f tmp/install.sh");
    ContainerChanges cc =
        new ContainerChanges(
            List.of(c("/tmp", Kind.CHANGED), c("/tmp/install.sh", Kind.ADDED)),
            List.of("/tmp/install.sh"));
    assertThat(cc.isEmpty()).isTrue();
  }

  @Test
  void deletedAndRecreatedPathIsTheNewEntryNotAWhiteout(@TempDir Path tmp) throws Exception {
    Path tar = export(tmp, "d d", "f d/x new");
    ContainerChanges cc =
        new ContainerChanges(
            List.of(c("/d", Kind.CHANGED), c("/d/a", Kind.DELETED), c("/d/x", Kind.DELETED)),
            List.of());
    RecordingWriter w = new RecordingWriter();
    try (LayerReader r = LayerReader.open(tar)) {
      cc.write(r, w);
    }
    assertThat(w.entries.keySet()).containsExactly("d", "d/a (whiteout)", "d/x");
  }

  @Test
  void hardLinksWithinTheChangesStayLinksAndLinksToUnchangedFilesAreFetched(@TempDir Path tmp)
      throws Exception {
    Path tar =
        export(
            tmp,
            "d bin",
            "f bin/busybox BB",
            "h bin/bb2 bin/busybox",
            "h bin/bb3 bin/busybox",
            "d opt",
            "f opt/a A",
            "h opt/b opt/a");
    ContainerChanges cc =
        new ContainerChanges(
            List.of(
                c("/bin", Kind.CHANGED),
                c("/bin/bb2", Kind.ADDED),
                c("/bin/bb3", Kind.ADDED),
                c("/opt", Kind.ADDED),
                c("/opt/a", Kind.ADDED),
                c("/opt/b", Kind.ADDED)),
            List.of());
    RecordingWriter w = new RecordingWriter();
    List<ContainerChanges.Fetch> fetches;
    try (LayerReader r = LayerReader.open(tar)) {
      fetches = cc.write(r, w);
    }
    assertThat(fetches).extracting(ContainerChanges.Fetch::path).containsExactly("bin/bb2");
    assertThat(w.entries.get("bin/bb3").type()).isEqualTo(LayerEntry.Type.HARDLINK);
    assertThat(w.entries.get("bin/bb3").linkTarget()).isEqualTo("bin/bb2");
    assertThat(w.entries.get("opt/b").type()).isEqualTo(LayerEntry.Type.HARDLINK);
    assertThat(w.entries.get("opt/b").linkTarget()).isEqualTo("opt/a");
    assertThat(w.entries).doesNotContainKey("bin/busybox");
  }

  @Test
  void dockerOwnedPathsAreIgnored() {
    assertThat(ContainerChanges.ignored("etc/hosts")).isTrue();
    assertThat(ContainerChanges.ignored("proc/1/status")).isTrue();
    assertThat(ContainerChanges.ignored("dev")).isTrue();
    assertThat(ContainerChanges.ignored("etc/hosts.allow")).isFalse();
    assertThat(ContainerChanges.ignored("device")).isFalse();
  }
}
