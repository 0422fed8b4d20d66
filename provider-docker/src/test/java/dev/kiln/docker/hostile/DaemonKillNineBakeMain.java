package dev.kiln.docker.hostile;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.EarlyBake;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The baker {@link DaemonKillNineIT} kills: {@code DaemonKillNineBakeMain STORE ROOTFS TREE IMAGE}
 * bakes {@link #definition} into STORE and {@code docker-daemon:IMAGE} only, at gzip level {@value
 * #LEVEL}; prints {@code ready} before it opens the store, {@code event TYPE} per bake event, and
 * {@code image=DIGEST} at the end. With a fifth argument {@code early} it bakes at gzip level
 * {@value #EARLY_LEVEL} with {@code Kiln.bakeEarly} and prints {@code returned early=BOOLEAN} once
 * that returns, before it waits for the store to catch up.
 */
public final class DaemonKillNineBakeMain {
  /** The fastest gzip level, so that a round of kill and rebake takes seconds. */
  static final int LEVEL = 1;

  /**
   * The level of an early bake: the default, so that the store catches up long enough after the
   * bake returned for a kill to land there.
   */
  static final int EARLY_LEVEL = 6;

  public static void main(String[] args) throws Exception {
    PrintStream out =
        new PrintStream(
            new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
    Path store = Path.of(args[0]);
    boolean early = args.length > 4 && args[4].equals("early");
    out.println("ready");
    try (Kiln kiln =
        Kiln.builder()
            .store(store)
            .compressionLevel(early ? EARLY_LEVEL : LEVEL)
            .watchFileSystem(false)
            .listener(
                e -> {
                  synchronized (out) {
                    out.println("event " + e.getClass().getSimpleName());
                  }
                })
            .build()) {
      ImageBuild build = definition(Path.of(args[1]), Path.of(args[2]));
      BakeResult r;
      if (early) {
        EarlyBake e = kiln.bakeEarly(build, "docker-daemon:" + args[3]);
        out.println("returned early=" + e.returnedEarly());
        r = e.await();
      } else {
        r = kiln.bake(build, "docker-daemon:" + args[3]);
      }
      out.println("image=" + r.digest());
    }
  }

  /** A busybox root file system and a files layer of the tree under /opt/tree. */
  static ImageBuild definition(Path rootfs, Path tree) {
    return ImageBuild.from(Base.rootfs(rootfs))
        .layer(Layer.files("tree").add(tree, "/opt/tree"))
        .config(c -> c.entrypoint("/bin/sh", "-c"));
  }
}
