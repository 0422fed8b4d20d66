package dev.kiln.docker.hostile;

import dev.kiln.BakeResult;
import dev.kiln.Base;
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
 * {@code image=DIGEST} at the end.
 */
public final class DaemonKillNineBakeMain {
  /** The fastest gzip level, so that a round of kill and rebake takes seconds. */
  static final int LEVEL = 1;

  public static void main(String[] args) throws Exception {
    PrintStream out =
        new PrintStream(
            new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
    Path store = Path.of(args[0]);
    out.println("ready");
    try (Kiln kiln =
        Kiln.builder()
            .store(store)
            .compressionLevel(LEVEL)
            .watchFileSystem(false)
            .listener(
                e -> {
                  synchronized (out) {
                    out.println("event " + e.getClass().getSimpleName());
                  }
                })
            .build()) {
      BakeResult r =
          kiln.bake(definition(Path.of(args[1]), Path.of(args[2])), "docker-daemon:" + args[3]);
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
