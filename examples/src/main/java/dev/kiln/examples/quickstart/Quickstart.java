package dev.kiln.examples.quickstart;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.examples.progress.ConsoleProgress;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Bakes a small app image — a busybox root file system (made from the host's busybox-static when it is installed,
 * else scratch), a files layer with the app, a config layer — into the default local store and an OCI archive,
 * then says what to run next. No daemon needed.
 *
 * <p>Usage: {@code Quickstart [OUTPUT_DIR]} (default {@code build/quickstart}).
 */
public final class Quickstart {
  public static void main(String[] args) throws Exception {
    Path out = Path.of(args.length > 0 ? args[0] : "build/quickstart").toAbsolutePath();
    Path src = writeApp(out.resolve("src"));
    Path busybox = Path.of("/bin/busybox");
    Base base = isStaticElf(busybox)
        ? Base.rootfs(busyboxRootfs(busybox, out.resolve("busybox-rootfs.tar")))
        : Base.scratch();

    ImageBuild app = ImageBuild.from(base)
        .layer(Layer.files("app").add(src.resolve("app"), "/opt/hello").add(src.resolve("hello.sh"), "/usr/local/bin/hello", 0755))
        .layer(Layer.files("config").content("/etc/hello/greeting", "Hello from an image baked by Kiln\n".getBytes(StandardCharsets.UTF_8), 0644))
        .config(c -> c.cmd("/usr/local/bin/hello").env("GREETING_FILE", "/etc/hello/greeting").label("org.opencontainers.image.title", "kiln-quickstart"));

    Path archive = out.resolve("quickstart.oci.tar");
    Path dockerArchive = out.resolve("quickstart.docker.tar");
    System.out.println("Baking " + app + " (store: " + Kiln.defaultStorePath() + ")");
    try (Kiln kiln = Kiln.builder().listener(new ConsoleProgress(System.out)).build()) {
      BakeResult r = kiln.bake(app, "oci-archive:" + archive + ":latest", "docker-archive:" + dockerArchive + ":kiln/quickstart:latest");
      System.out.println();
      System.out.println("image digest: " + r.digest());
      System.out.println("layers:       " + r.layers().size() + " (" + r.provisioned().size() + " built, " + (r.layers().size() - r.provisioned().size()) + " from cache)");
      System.out.println("record:       " + r.record());
      System.out.println();
      System.out.println("Next:");
      System.out.println("  skopeo inspect oci-archive:" + archive + ":latest");
      System.out.println("  skopeo inspect oci:" + kiln.store() + ":" + r.digest().hex());
      System.out.println("  docker load -i " + dockerArchive + " && docker run --rm kiln/quickstart:latest");
    }
  }

  private static Path writeApp(Path dir) throws IOException {
    Files.createDirectories(dir.resolve("app"));
    Files.writeString(dir.resolve("app/README"), "The quickstart app: a shell script and this file.\n");
    Files.writeString(dir.resolve("hello.sh"), "#!/bin/sh\ncat \"${GREETING_FILE:-/etc/hello/greeting}\"\n");
    return dir;
  }

  /** True for a statically linked ELF executable (no PT_INTERP program header), as busybox-static installs. */
  static boolean isStaticElf(Path file) throws IOException {
    if (!Files.isRegularFile(file) || !Files.isExecutable(file)) {
      return false;
    }
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(Files.readAllBytes(file)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    if (b.limit() < 64 || b.getInt(0) != 0x464c457f || b.get(4) != 2) {
      return false;
    }
    long phoff = b.getLong(0x20);
    int phentsize = Short.toUnsignedInt(b.getShort(0x36));
    int phnum = Short.toUnsignedInt(b.getShort(0x38));
    for (int i = 0; i < phnum; i++) {
      if (b.getInt((int) (phoff + (long) i * phentsize)) == 3) {
        return false;
      }
    }
    return true;
  }

  /** /bin/busybox plus /bin/sh and a few applet links, owned by root, with fixed times (the same tarball every run). */
  private static Path busyboxRootfs(Path busybox, Path tar) throws IOException {
    Files.createDirectories(tar.getParent());
    try (OutputStream os = Files.newOutputStream(tar);
        TarArchiveOutputStream t = new TarArchiveOutputStream(os)) {
      for (String d : new String[] {"bin/", "etc/", "tmp/"}) {
        TarArchiveEntry e = new TarArchiveEntry(d);
        e.setModTime(0);
        e.setMode(d.equals("tmp/") ? 041777 : 040755);
        t.putArchiveEntry(e);
        t.closeArchiveEntry();
      }
      TarArchiveEntry bb = new TarArchiveEntry("bin/busybox");
      bb.setMode(0100755);
      bb.setModTime(0);
      bb.setSize(Files.size(busybox));
      t.putArchiveEntry(bb);
      Files.copy(busybox, t);
      t.closeArchiveEntry();
      for (String applet : new String[] {"sh", "cat", "ls", "echo"}) {
        TarArchiveEntry l = new TarArchiveEntry("bin/" + applet, TarArchiveEntry.LF_SYMLINK);
        l.setLinkName("busybox");
        l.setModTime(0);
        t.putArchiveEntry(l);
        t.closeArchiveEntry();
      }
    }
    return tar;
  }
}
