package dev.kiln.internal.tar;

import static dev.kiln.internal.tar.TarTestSupport.data;
import static dev.kiln.internal.tar.TarTestSupport.gunzip;
import static dev.kiln.internal.tar.TarTestSupport.paths;
import static dev.kiln.internal.tar.TarTestSupport.readAll;
import static dev.kiln.internal.tar.TarTestSupport.sha256;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.internal.tar.TarTestSupport.CompressorPool;
import dev.kiln.internal.tar.TarTestSupport.Snap;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class CanonicalLayerWriterTest {
  private static final long MTIME = 1;
  private static final byte[] CAPABILITY = {
    1, 0, 0, 2, 0, 0x20, 0, 0, (byte) 0x80, (byte) 0xff, 0, 0, 0, 0, 0, 0
  };

  @RegisterExtension static final CompressorPool compressors = new CompressorPool(2);

  @TempDir Path tmp;
  private Path out;

  @BeforeEach
  void dirs() throws IOException {
    out = Files.createDirectories(tmp.resolve("out"));
  }

  private CanonicalLayerWriter writer() {
    return new CanonicalLayerWriter(out, MTIME, 6, compressors.executor());
  }

  private LayerBlob write(LayerEntry... entries) throws IOException {
    try (CanonicalLayerWriter w = writer()) {
      for (LayerEntry e : entries) {
        w.add(e);
      }
      return w.finish();
    }
  }

  /** A file entry for add(entry, InputStream): the entry's own content is never opened. */
  static LayerEntry streamed(String path, int mode, long size) {
    return LayerEntry.file(
        path,
        mode,
        size,
        () -> {
          throw new IOException("content of a streamed entry comes from the stream");
        });
  }

  private static byte[] text(String s) {
    return s.getBytes(UTF_8);
  }

  /**
   * Raw view of the archive through commons-compress: names as stored, with types, modes, owners
   * and times.
   */
  private static List<String> raw(Path layer) throws IOException {
    List<String> out = new ArrayList<>();
    try (TarArchiveInputStream in =
        new TarArchiveInputStream(new GZIPInputStream(Files.newInputStream(layer)), "UTF-8")) {
      TarArchiveEntry e;
      while ((e = in.getNextEntry()) != null) {
        out.add(
            e.getName()
                + " "
                + (char) e.getLinkFlag()
                + " "
                + Integer.toOctalString(e.getMode())
                + " "
                + e.getLongUserId()
                + ":"
                + e.getLongGroupId()
                + " "
                + e.getSize()
                + " "
                + e.getLastModifiedTime().toInstant().getEpochSecond()
                + " '"
                + e.getUserName()
                + "' '"
                + e.getGroupName()
                + "'"
                + (e.getLinkName().isEmpty() ? "" : " -> " + e.getLinkName()));
      }
    }
    return out;
  }

  @Test
  void roundTripsEveryKindOfEntry() throws IOException {
    Path src = Files.writeString(tmp.resolve("hello.txt"), "hello");
    byte[] profile = text("export PS1=$");
    try (CanonicalLayerWriter w = writer()) {
      w.add(LayerEntry.file("etc/hello.txt", 0644, src));
      w.add(LayerEntry.file("usr/bin/tool", 04755, text("#!/bin/sh")));
      w.add(
          streamed("home/u/.profile", 0600, profile.length).owner(1000, 1001),
          new ByteArrayInputStream(profile));
      w.add(LayerEntry.directory("tmp", 01777));
      w.add(LayerEntry.symlink("bin", "usr/bin"));
      w.add(LayerEntry.hardlink("usr/bin/tool2", "usr/bin/tool"));
      w.add(LayerEntry.device("dev/null", Type.CHAR_DEVICE, 0666, 1, 3));
      w.add(LayerEntry.device("dev/sda", Type.BLOCK_DEVICE, 0660, 8, 0));
      w.add(LayerEntry.device("run/fifo", Type.FIFO, 0644, 0, 0));
      w.add(
          LayerEntry.file("usr/bin/ping", 0755, text("ping"))
              .xattrs(Map.of("security.capability", CAPABILITY)));
      w.add(LayerEntry.whiteout("var/old"));
      w.add(LayerEntry.opaqueWhiteout("opt"));
      LayerBlob blob = w.finish();

      List<String> listing = readAll(blob.file()).stream().map(Snap::toString).toList();
      assertThat(listing)
          .containsExactly(
              "SYMLINK bin 777 0:0 size=0 -> usr/bin",
              "CHAR_DEVICE dev/null 666 0:0 size=0 dev=1,3",
              "BLOCK_DEVICE dev/sda 660 0:0 size=0 dev=8,0",
              "FILE etc/hello.txt 644 0:0 size=5 'hello'",
              "FILE home/u/.profile 600 1000:1001 size=12 'export PS1=$'",
              "DIRECTORY opt 755 0:0 size=0",
              "OPAQUE_WHITEOUT opt 0 0:0 size=0",
              "FIFO run/fifo 644 0:0 size=0",
              "DIRECTORY tmp 1777 0:0 size=0",
              "FILE usr/bin/ping 755 0:0 size=4 {security.capability="
                  + java.util.Arrays.toString(CAPABILITY)
                  + "} 'ping'",
              "FILE usr/bin/tool 4755 0:0 size=9 '#!/bin/sh'",
              "HARDLINK usr/bin/tool2 4755 0:0 size=0 -> usr/bin/tool",
              "WHITEOUT var/old 0 0:0 size=0");
      assertThat(blob.entries()).isEqualTo(13);
    }
  }

  @Test
  void blobDigestsAndSizesMatchTheFile() throws IOException {
    LayerBlob blob =
        write(LayerEntry.file("a/b", 0644, data(1, 3_000_000)), LayerEntry.symlink("c", "a/b"));
    byte[] gz = Files.readAllBytes(blob.file());
    byte[] tar = gunzip(gz);
    assertThat(blob.digest().hex()).isEqualTo(sha256(gz));
    assertThat(blob.diffId().hex()).isEqualTo(sha256(tar));
    assertThat(blob.size()).isEqualTo(gz.length);
    assertThat(blob.uncompressedSize()).isEqualTo(tar.length);
    assertThat(blob.file().getParent()).isEqualTo(out);
    // headers: a/b (+content padded), c; then two zero blocks and no record padding
    assertThat(tar.length).isEqualTo(512 * 2 + 3_000_000 + (512 - 3_000_000 % 512) + 1024);
  }

  @Test
  void anEmptyLayerIsTheWellKnownEmptyTar() throws IOException {
    LayerBlob blob = write();
    // sha256 of 1024 zero bytes: the diffID every registry knows as the empty layer
    assertThat(blob.diffId().hex())
        .isEqualTo("5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
    assertThat(blob.uncompressedSize()).isEqualTo(1024);
    assertThat(blob.entries()).isZero();
  }

  @Test
  void sortsDirectoriesRightBeforeTheirChildren() throws IOException {
    LayerBlob blob =
        write(
            LayerEntry.file("a-b/x", 0644, text("1")),
            LayerEntry.file("a.b", 0644, text("2")),
            LayerEntry.file("a/b/c", 0644, text("3")),
            LayerEntry.directory("a", 0700),
            LayerEntry.file("A", 0644, text("4")),
            LayerEntry.file("a/b-c", 0644, text("5")),
            LayerEntry.file("\u00e9t\u00e9", 0644, text("6")),
            LayerEntry.file("\ud83d\ude42", 0644, text("7")),
            LayerEntry.file("\uffee", 0644, text("8")),
            LayerEntry.file("a/b0", 0644, text("9")));
    assertThat(paths(readAll(blob.file())))
        .containsExactly(
            "A",
            "a",
            "a/b/c",
            "a/b-c",
            "a/b0",
            "a-b/x",
            "a.b",
            "\u00e9t\u00e9",
            "\uffee",
            "\ud83d\ude42");
  }

  @Test
  void inventsNoParentsSoLowerLayersKeepTheirs() throws IOException {
    // /tmp stays 1777 and a merged-/usr /lib symlink stays a symlink: the layer says nothing about
    // them
    LayerBlob blob =
        write(
            LayerEntry.file("tmp/x", 0600, text("x")).owner(5, 6),
            LayerEntry.file("lib/systemd/system/app.service", 0644, text("u")),
            LayerEntry.directory("opt/app", 0750),
            LayerEntry.file("opt/app/run", 0755, text("r")));
    assertThat(readAll(blob.file()).stream().map(Snap::toString))
        .containsExactly(
            "FILE lib/systemd/system/app.service 644 0:0 size=1 'u'",
            "DIRECTORY opt/app 750 0:0 size=0",
            "FILE opt/app/run 755 0:0 size=1 'r'",
            "FILE tmp/x 600 5:6 size=1 'x'");
  }

  @Test
  void sameContentGivesIdenticalBytesWhateverTheOrderSourcesAndPool() throws Exception {
    byte[] big = data(2, 2_500_000);
    byte[] small = text("small file");
    // Run 1: files on disk with an old mtime, added in one order, on a 1-thread pool.
    Path dir1 = Files.createDirectories(tmp.resolve("src1/deep"));
    Path bigFile = Files.write(dir1.resolve("big.bin"), big);
    Path smallFile = Files.write(dir1.resolve("s"), small);
    Files.setLastModifiedTime(bigFile, FileTime.fromMillis(978_307_200_000L));
    Files.setLastModifiedTime(smallFile, FileTime.fromMillis(978_307_200_000L));
    List<LayerEntry> entries =
        List.of(
            LayerEntry.directory("opt", 0755),
            LayerEntry.file("opt/app/big.bin", 0755, bigFile),
            LayerEntry.file("opt/app/small.txt", 0644, smallFile),
            LayerEntry.symlink("opt/current", "app"),
            LayerEntry.whiteout("opt/legacy"),
            LayerEntry.file("etc/app.conf", 0640, text("k=v")).owner(0, 42));
    ExecutorService one = TarTestSupport.pool(1);
    LayerBlob first;
    try (CanonicalLayerWriter w = new CanonicalLayerWriter(out, MTIME, 6, one)) {
      for (LayerEntry e : entries) {
        w.add(e);
      }
      first = w.finish();
    } finally {
      one.shutdownNow();
    }
    // Run 2: other file names and fresh mtimes, in-memory and streamed content, reverse order, 4
    // threads.
    Path dir2 = Files.createDirectories(tmp.resolve("elsewhere"));
    Path bigCopy = Files.write(dir2.resolve("other-name"), big);
    ExecutorService four = TarTestSupport.pool(4);
    LayerBlob second;
    try (CanonicalLayerWriter w = new CanonicalLayerWriter(out, MTIME, 6, four)) {
      w.add(LayerEntry.file("etc/app.conf", 0640, text("k=v")).owner(0, 42));
      w.add(LayerEntry.whiteout("opt/legacy"));
      w.add(LayerEntry.symlink("opt/current", "app"));
      w.add(streamed("opt/app/small.txt", 0644, small.length), new ByteArrayInputStream(small));
      w.add(LayerEntry.file("opt/app/big.bin", 0755, bigCopy));
      w.add(LayerEntry.directory("opt", 0755));
      second = w.finish();
    } finally {
      four.shutdownNow();
    }
    assertThat(second.diffId()).isEqualTo(first.diffId());
    assertThat(second.digest()).isEqualTo(first.digest());
    assertThat(Files.readAllBytes(second.file())).isEqualTo(Files.readAllBytes(first.file()));
    assertThat(second.file()).isNotEqualTo(first.file());
  }

  @Test
  void gnuTarListsTheExpectedNamesModesOwnersAndTime() throws Exception {
    assumeTrue(TarTestSupport.onPath("tar"), "tar not installed");
    LayerBlob blob =
        write(
            LayerEntry.file("usr/bin/tool", 04755, text("#!/bin/sh\n")),
            LayerEntry.hardlink("usr/bin/tool2", "usr/bin/tool"),
            LayerEntry.directory("tmp", 01777),
            LayerEntry.symlink("bin", "usr/bin"),
            LayerEntry.file("home/u/.profile", 0600, text("x")).owner(1000, 1000),
            LayerEntry.device("dev/null", Type.CHAR_DEVICE, 0666, 1, 3),
            LayerEntry.file("big-owner", 0644, text("y")).owner(3_000_000, 4_000_000),
            LayerEntry.whiteout("var/gone"));
    TarTestSupport.Result r =
        TarTestSupport.run(
            tmp, "tar", "--numeric-owner", "--full-time", "-tvzf", blob.file().toString());
    assertThat(r.err()).isEmpty();
    assertThat(r.exit()).isZero();
    List<String> lines = r.out().lines().map(l -> l.replaceAll(" +", " ")).toList();
    assertThat(lines)
        .containsExactly(
            "-rw-r--r-- 3000000/4000000 1 1970-01-01 00:00:01 big-owner",
            "lrwxrwxrwx 0/0 0 1970-01-01 00:00:01 bin -> usr/bin",
            "crw-rw-rw- 0/0 1,3 1970-01-01 00:00:01 dev/null",
            "-rw------- 1000/1000 1 1970-01-01 00:00:01 home/u/.profile",
            "drwxrwxrwt 0/0 0 1970-01-01 00:00:01 tmp/",
            "-rwsr-xr-x 0/0 10 1970-01-01 00:00:01 usr/bin/tool",
            "hrwsr-xr-x 0/0 0 1970-01-01 00:00:01 usr/bin/tool2 link to usr/bin/tool",
            "---------- 0/0 0 1970-01-01 00:00:01 var/.wh.gone");
    // Names only, no uname/gname, fixed mtime, as commons-compress sees the raw headers.
    assertThat(raw(blob.file()))
        .contains("usr/bin/tool 0 4755 0:0 10 1 '' ''", "var/.wh.gone 0 0 0:0 0 1 '' ''");
  }

  @Test
  void gnuTarExtractsFilesModesAndHardlinks() throws Exception {
    assumeTrue(TarTestSupport.onPath("tar"), "tar not installed");
    LayerBlob blob =
        write(
            LayerEntry.file("z/data", 0640, text("shared")),
            LayerEntry.hardlink("a/link", "z/data"),
            LayerEntry.file("bin/run", 0755, data(3, 200_000)),
            LayerEntry.symlink("a/sym", "../z/data"));
    Path x = Files.createDirectories(tmp.resolve("x"));
    TarTestSupport.Result r = TarTestSupport.run(x, "tar", "-xzf", blob.file().toString());
    assertThat(r.err()).isEmpty();
    assertThat(Files.readString(x.resolve("a/link"))).isEqualTo("shared");
    assertThat(Files.isSameFile(x.resolve("a/link"), x.resolve("z/data"))).isTrue();
    assertThat(Files.readAllBytes(x.resolve("bin/run"))).isEqualTo(data(3, 200_000));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(x.resolve("bin/run"))))
        .isEqualTo("rwxr-xr-x");
    assertThat(Files.readSymbolicLink(x.resolve("a/sym")).toString()).isEqualTo("../z/data");
  }

  @Test
  void longNamesUseUstarPrefixOrPax() throws Exception {
    String splittable =
        "d".repeat(60) + "/" + "e".repeat(60) + "/" + "f".repeat(30); // 152 chars, fits prefix+name
    StringBuilder deep = new StringBuilder();
    for (int i = 0; i < 30; i++) {
      deep.append(i == 0 ? "" : "/").append("segment").append(String.format("%03d", i));
    }
    String veryLong = deep.toString(); // 329 chars
    String oneLongSegment = "s".repeat(120);
    String longTarget = "/" + "t".repeat(150);

    LayerBlob plain = write(LayerEntry.file(splittable, 0644, text("1")));
    assertThat(new String(gunzip(plain.file()), UTF_8)).doesNotContain("PaxHeaders");

    LayerBlob blob =
        write(
            LayerEntry.file(splittable, 0644, text("1")),
            LayerEntry.file(veryLong, 0644, text("2")),
            LayerEntry.file(oneLongSegment, 0644, text("3")),
            LayerEntry.symlink("lnk", longTarget));
    List<Snap> snaps = readAll(blob.file());
    assertThat(paths(snaps)).contains(splittable, veryLong, oneLongSegment);
    assertThat(snaps).anySatisfy(s -> assertThat(s.link()).isEqualTo(longTarget));
    assertThat(new String(gunzip(blob.file()), UTF_8)).contains("PaxHeaders/");

    if (TarTestSupport.onPath("tar")) {
      TarTestSupport.Result r = TarTestSupport.run(tmp, "tar", "-tzf", blob.file().toString());
      assertThat(r.err()).isEmpty();
      assertThat(r.out().lines())
          .contains(splittable, veryLong, oneLongSegment)
          .noneMatch(l -> l.contains("PaxHeaders"));
    }
  }

  @Test
  void unicodeNamesRoundTripThroughPax() throws Exception {
    String[] names = {
      "donn\u00e9es/\u65e5\u672c\u8a9e/\u0444\u0430\u0439\u043b.txt", "\ud83d\ude42.txt"
    };
    LayerBlob blob =
        write(
            LayerEntry.file(names[0], 0644, text("a")), LayerEntry.file(names[1], 0644, text("b")));
    assertThat(paths(readAll(blob.file()))).contains(names);
    if (TarTestSupport.onPath("tar")) {
      TarTestSupport.Result r = TarTestSupport.run(tmp, "tar", "-tzf", blob.file().toString());
      assertThat(r.err()).isEmpty();
      assertThat(r.out().lines()).contains(names);
    }
  }

  @Test
  void largeIdsAndLateMtimesGoToPax() throws IOException {
    long lateMtime = 1L << 34; // beyond 11 octal digits
    LayerBlob blob;
    try (CanonicalLayerWriter w =
        new CanonicalLayerWriter(out, lateMtime, 6, compressors.executor())) {
      w.add(LayerEntry.file("f", 0644, text("x")).owner(3_000_000, Integer.MAX_VALUE));
      blob = w.finish();
    }
    assertThat(readAll(blob.file()).get(0).toString())
        .isEqualTo("FILE f 644 3000000:2147483647 size=1 'x'");
    assertThat(raw(blob.file()))
        .containsExactly("f 0 644 3000000:2147483647 1 " + lateMtime + " '' ''");
  }

  @Test
  void whiteoutsAreEmptyMode0FilesBeforeTheirSiblings() throws IOException {
    LayerBlob blob =
        write(
            LayerEntry.file("d/-x", 0644, text("keep")),
            LayerEntry.file("d/a", 0644, text("a")),
            LayerEntry.whiteout("d/zzz"),
            LayerEntry.whiteout("d/-y"),
            LayerEntry.opaqueWhiteout("d"),
            LayerEntry.whiteout("top"));
    assertThat(raw(blob.file()))
        .containsExactly(
            ".wh.top 0 0 0:0 0 1 '' ''",
            "d/ 5 755 0:0 0 1 '' ''",
            "d/.wh.-y 0 0 0:0 0 1 '' ''",
            "d/.wh..wh..opq 0 0 0:0 0 1 '' ''",
            "d/.wh.zzz 0 0 0:0 0 1 '' ''",
            "d/-x 0 644 0:0 4 1 '' ''",
            "d/a 0 644 0:0 1 1 '' ''");
  }

  @Test
  void theLastEntryForAPathWins() throws IOException {
    LayerBlob blob;
    try (CanonicalLayerWriter w = writer()) {
      w.add(LayerEntry.file("x", 0644, text("one")));
      w.add(LayerEntry.file("x", 0600, text("two")));
      w.add(LayerEntry.file("y", 0644, text("y")));
      w.add(LayerEntry.whiteout("y"));
      w.add(LayerEntry.whiteout("z"));
      w.add(streamed("z", 0644, 1), new ByteArrayInputStream(text("z")));
      blob = w.finish();
    }
    assertThat(readAll(blob.file()).stream().map(Snap::toString))
        // a whiteout file (.wh.y) sorts before its siblings
        .containsExactly(
            "WHITEOUT y 0 0:0 size=0", "FILE x 600 0:0 size=3 'two'", "FILE z 644 0:0 size=1 'z'");
  }

  @Test
  void rejectsEntriesWrittenThroughASymlinkOfTheLayer() {
    assertThatThrownBy(
            () ->
                write(
                    LayerEntry.symlink("a/l", "/etc"),
                    LayerEntry.file("a/l/passwd", 0644, text("root::0:0"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'a/l/passwd'")
        .hasMessageContaining("symlink 'a/l' -> '/etc'");
    assertThatThrownBy(() -> write(LayerEntry.symlink("l", "/x"), LayerEntry.whiteout("l/y")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("symlink 'l' -> '/x'");
    assertThatThrownBy(() -> write(LayerEntry.symlink("o", "/x"), LayerEntry.opaqueWhiteout("o")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("opaque whiteout of 'o'")
        .hasMessageContaining("symlink 'o' -> '/x'");
    assertThatThrownBy(
            () -> write(LayerEntry.symlink("l", "/etc"), LayerEntry.hardlink("h", "l/shadow")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("hard link 'h' -> 'l/shadow'");
  }

  @Test
  void rejectsParentsThatAreNotDirectories() {
    assertThatThrownBy(
            () ->
                write(LayerEntry.file("f", 0644, text("")), LayerEntry.file("f/x", 0644, text(""))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(
            "'f/x' needs 'f' to be a directory, but the same layer has it as a FILE");
    assertThatThrownBy(
            () -> write(LayerEntry.whiteout("d"), LayerEntry.file("d/x", 0644, text(""))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("deletes with a whiteout")
        .hasMessageContaining("opaqueWhiteout");
  }

  @Test
  void rejectsNamesReservedForWhiteouts() throws IOException {
    try (CanonicalLayerWriter w = writer()) {
      assertThatThrownBy(() -> w.add(LayerEntry.file("d/.wh.x", 0644, text(""))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("reserved for OCI whiteouts");
      assertThatThrownBy(() -> w.add(LayerEntry.directory(".wh..wh..opq/y", 0755)))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void storesHardLinkedContentUnderTheFirstPathWhicheverWasDeclared() throws IOException {
    LayerBlob declaredLast =
        write(
            LayerEntry.file("z/data", 0640, text("shared")),
            LayerEntry.hardlink("a/link", "z/data"));
    LayerBlob declaredFirst =
        write(
            LayerEntry.file("a/link", 0640, text("shared")),
            LayerEntry.hardlink("z/data", "a/link"));
    assertThat(readAll(declaredLast.file()).stream().map(Snap::toString))
        .containsExactly(
            "FILE a/link 640 0:0 size=6 'shared'", "HARDLINK z/data 640 0:0 size=0 -> a/link");
    assertThat(declaredFirst.digest()).isEqualTo(declaredLast.digest());
  }

  @Test
  void resolvesChainsOfHardLinksAndKeepsLinksToLowerLayers() throws IOException {
    LayerBlob blob =
        write(
            LayerEntry.file("m/file", 0600, text("x")),
            LayerEntry.hardlink("k/one", "m/file"),
            LayerEntry.hardlink("z/two", "k/one"),
            LayerEntry.hardlink("lower-link", "usr/lib/libc.so"));
    assertThat(readAll(blob.file()).stream().map(Snap::toString))
        .containsExactly(
            "FILE k/one 600 0:0 size=1 'x'",
            "HARDLINK lower-link 644 0:0 size=0 -> usr/lib/libc.so",
            "HARDLINK m/file 600 0:0 size=0 -> k/one",
            "HARDLINK z/two 600 0:0 size=0 -> k/one");
  }

  @Test
  void rejectsBadHardLinks() {
    assertThatThrownBy(() -> write(LayerEntry.directory("d", 0755), LayerEntry.hardlink("h", "d")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cannot hard-link a directory");
    assertThatThrownBy(() -> write(LayerEntry.hardlink("a", "b"), LayerEntry.hardlink("b", "a")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cycle");
    assertThatThrownBy(() -> write(LayerEntry.whiteout("gone"), LayerEntry.hardlink("h", "gone")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("deleted by a whiteout");
  }

  @Test
  void aSourceThatShrinksOrGrowsChangedWhileBeingRead() throws IOException {
    assertResizedSourceFailsTheLayer(
        500, "'opt/src.bin' changed while being read: expected 1000 bytes, found 500");
    assertResizedSourceFailsTheLayer(
        1001, "'opt/src.bin' changed while being read: expected 1000 bytes, found more");
  }

  /**
   * Adds a 1000-byte file, rewrites it with {@code newSize} bytes before the layer is written, and
   * checks that the layer fails with {@code message} and leaves no file behind.
   */
  private void assertResizedSourceFailsTheLayer(int newSize, String message) throws IOException {
    Path file = Files.write(tmp.resolve("src.bin"), data(4, 1000));
    try (CanonicalLayerWriter w = writer()) {
      w.add(LayerEntry.file("opt/src.bin", 0644, file));
      Files.write(file, data(4, newSize));
      assertThatThrownBy(w::finish).isInstanceOf(IOException.class).hasMessageContaining(message);
    }
    assertThat(listOut()).isEmpty();
  }

  @Test
  void aMissingSourceNamesThePath() throws IOException {
    Path missing = tmp.resolve("no/such/file");
    try (CanonicalLayerWriter w = writer()) {
      w.add(LayerEntry.file("x", 0644, 3, LayerEntry.Content.of(missing)));
      assertThatThrownBy(w::finish)
          .isInstanceOf(IOException.class)
          .hasMessageContaining("layer entry 'x'")
          .hasMessageContaining(missing.toString());
    }
    assertThat(listOut()).isEmpty();
  }

  @Test
  void streamedContentMustHaveTheDeclaredSize() throws IOException {
    try (CanonicalLayerWriter w = writer()) {
      assertThatThrownBy(
              () -> w.add(streamed("s", 0644, 10), new ByteArrayInputStream(new byte[4])))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("'s' ended after 4 of its 10 bytes");
      assertThatThrownBy(() -> w.add(streamed("l", 0644, 2), new ByteArrayInputStream(new byte[4])))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("'l' is longer than its declared 2 bytes");
      assertThatThrownBy(
              () -> w.add(LayerEntry.directory("d", 0755), new ByteArrayInputStream(new byte[0])))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("takes FILE entries");
    }
  }

  @Test
  void spoolsStreamsToOneTempFileAndCleansUp() throws IOException {
    LayerBlob blob;
    try (CanonicalLayerWriter w = writer()) {
      for (int i = 0; i < 20; i++) {
        byte[] b = data(i, 10_000 + i);
        w.add(streamed("f" + i, 0644, b.length), new ByteArrayInputStream(b));
      }
      assertThat(listOut())
          .hasSize(1)
          .allMatch(p -> p.getFileName().toString().startsWith("kiln-spool-"));
      blob = w.finish();
      assertThat(listOut()).containsExactly(blob.file());
    }
    assertThat(listOut()).containsExactly(blob.file()); // close() after finish keeps the blob
    Map<String, String> contents = new java.util.HashMap<>();
    for (Snap s : readAll(blob.file())) {
      contents.put(s.path(), s.content());
    }
    for (int i = 0; i < 20; i++) {
      assertThat(contents.get("f" + i))
          .isEqualTo(Snap.of(LayerEntry.file("x", 0644, data(i, 10_000 + i))).content());
    }
  }

  @Test
  void closeWithoutFinishDeletesEverything() throws IOException {
    CanonicalLayerWriter w = writer();
    w.add(streamed("a", 0644, 3), new ByteArrayInputStream(text("abc")));
    assertThat(listOut()).hasSize(1);
    w.close();
    assertThat(listOut()).isEmpty();
    assertThatThrownBy(() -> w.add(LayerEntry.directory("b", 0755)))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void cannotBeUsedAfterFinish() throws IOException {
    try (CanonicalLayerWriter w = writer()) {
      w.finish();
      assertThatThrownBy(w::finish).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> w.add(LayerEntry.directory("b", 0755)))
          .isInstanceOf(IllegalStateException.class);
    }
  }

  @Test
  void writesA300MbLayerIn64MbOfHeap() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    TarTestSupport.Result r =
        TarTestSupport.run(
            tmp,
            java,
            "-Xmx64m",
            "-cp",
            System.getProperty("java.class.path"),
            LowMemoryMain.class.getName(),
            out.toString());
    assertThat(r.exit()).as(r.err()).isZero();
    String[] result = r.out().trim().split(" ");
    Path file = Path.of(result[2]);
    assertThat(Long.parseLong(result[1])).isGreaterThan(300_000_000L);
    // The diffID is the hash of what gunzip gives, streamed here too.
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    try (InputStream in = new GZIPInputStream(Files.newInputStream(file), 1 << 16)) {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        sha.update(buf, 0, n);
      }
    }
    assertThat(com.google.common.io.BaseEncoding.base16().lowerCase().encode(sha.digest()))
        .isEqualTo(result[0]);
  }

  /**
   * The bytes every digest depends on, pinned: a layer with every kind of entry, added out of
   * order, with content from memory, from disk (plain and hashed) and from streams, hard links
   * re-rooted, chained and to a lower layer, whiteouts, opaque directories, and enough files (one
   * of them large) for the gzip stream to be cut into chunks by every rule.
   */
  @Test
  void theBytesOfALayerWithEveryFeatureArePinned() throws IOException {
    Path disk = Files.write(tmp.resolve("disk.bin"), data(7, 70_000));
    byte[] streamedBytes = data(8, 30_000);
    LayerBlob blob;
    try (CanonicalLayerWriter w = writer()) {
      for (int i = 299; i >= 0; i--) {
        w.add(LayerEntry.file("usr/share/doc/f" + i, 0644, data(100 + i, 2_000 + 37 * i)));
      }
      w.add(LayerEntry.file("opt/big.bin", 0755, data(9, 700_000)));
      w.add(LayerEntry.file("opt/disk.bin", 0640, disk).owner(7, 8));
      w.add(
          LayerEntry.file(
              "opt/hashed.bin",
              0600,
              Files.size(disk),
              LayerEntry.Content.hashed(disk, dev.kiln.Digest.parse("sha256:" + sha256(disk)))));
      w.add(
          streamed("home/u/stream.bin", 0600, streamedBytes.length).owner(1000, 1000),
          new ByteArrayInputStream(streamedBytes));
      w.add(LayerEntry.directory("usr/share/doc", 0755));
      w.add(LayerEntry.directory("tmp", 01777));
      w.add(LayerEntry.symlink("bin", "usr/bin"));
      w.add(LayerEntry.file("z/inode", 04755, text("#!/bin/sh")));
      w.add(LayerEntry.hardlink("a/first", "z/inode"));
      w.add(LayerEntry.hardlink("m/chained", "a/first"));
      w.add(LayerEntry.hardlink("lower-link", "usr/lib/libc.so"));
      w.add(LayerEntry.device("dev/null", Type.CHAR_DEVICE, 0666, 1, 3));
      w.add(LayerEntry.device("dev/sda", Type.BLOCK_DEVICE, 0660, 8, 0));
      w.add(LayerEntry.device("run/fifo", Type.FIFO, 0644, 0, 0));
      w.add(
          LayerEntry.file("usr/bin/ping", 0755, text("ping"))
              .xattrs(Map.of("security.capability", CAPABILITY)));
      w.add(LayerEntry.whiteout("var/old"));
      w.add(LayerEntry.whiteout("usr/share/doc/gone"));
      w.add(LayerEntry.opaqueWhiteout("etc"));
      w.add(LayerEntry.directory("srv", 0700));
      w.add(LayerEntry.opaqueWhiteout("srv"));
      blob = w.finish();
    }
    assertThat(blob.entries()).isEqualTo(321);
    assertThat(blob.diffId().toString())
        .isEqualTo("sha256:480ff7453241393a7c0fb4d17c4f36395f01209fce34f5dab256cec768bd42c8");
    assertThat(blob.digest().toString())
        .isEqualTo("sha256:a7f2bb727d2982ba4801aa72c2842b30b39998acd60cefd4c443e2c63f29c676");
  }

  private List<Path> listOut() throws IOException {
    try (Stream<Path> s = Files.list(out)) {
      List<Path> files = new ArrayList<>(s.toList());
      Collections.sort(files);
      return files;
    }
  }
}
