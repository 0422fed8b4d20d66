package dev.kiln.hostile;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.event.BakeEvent;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The baker {@link KillNineIT} kills: {@code KillNineBakeMain STORE TREE [--hold="TYPE SUBJECT"]
 * [--level=N] TARGET...} bakes {@link #definition} into STORE and the targets at gzip level N
 * (default {@value #LEVEL}), and prints {@code ready} before it opens the store, one {@code event
 * MILLIS TYPE SUBJECT} line per bake event (MILLIS since {@code ready}) as the event happens, and
 * {@code image=DIGEST} at the end. With {@code --hold}, the listener stops the bake right after
 * that event (and prints {@code holding}), so a kill lands at exactly that point.
 */
public final class KillNineBakeMain {
  /**
   * The gzip level of these bakes: the fastest, so that one round of kill and rebake takes seconds.
   */
  static final int LEVEL = 1;

  public static void main(String[] args) throws Exception {
    PrintStream out =
        new PrintStream(
            new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
    Path store = Path.of(args[0]);
    Path tree = Path.of(args[1]);
    String hold = null;
    int level = LEVEL;
    int first = 2;
    for (; first < args.length && args[first].startsWith("--"); first++) {
      if (args[first].startsWith("--hold=")) {
        hold = args[first].substring("--hold=".length());
      } else if (args[first].startsWith("--level=")) {
        level = Integer.parseInt(args[first].substring("--level=".length()));
      } else {
        throw new IllegalArgumentException("unknown option " + args[first]);
      }
    }
    String[] targets = Arrays.copyOfRange(args, first, args.length);
    String holdAt = hold;
    long t0 = System.nanoTime();
    out.println("ready");
    try (Kiln kiln =
        Kiln.builder()
            .store(store)
            .compressionLevel(level)
            .watchFileSystem(false)
            .listener(
                e -> {
                  String line = type(e) + " " + subject(e);
                  synchronized (out) {
                    out.println("event " + (System.nanoTime() - t0) / 1_000_000 + " " + line);
                  }
                  if (line.equals(holdAt)) {
                    out.println("holding");
                    try {
                      Thread.sleep(600_000);
                    } catch (InterruptedException ie) {
                      Thread.currentThread().interrupt();
                    }
                  }
                })
            .build()) {
      BakeResult r = kiln.bake(definition(tree), targets);
      out.println("image=" + r.digest());
    }
  }

  /**
   * The JDK tree as one files layer under /opt/jdk and a small layer declared in code, over
   * scratch.
   */
  static ImageBuild definition(Path tree) {
    return ImageBuild.from(Base.scratch())
        .layer(Layer.files("jdk").add(tree, "/opt/jdk"))
        .layer(
            Layer.files("app")
                .directory("/opt/app", 0755)
                .content(
                    "/opt/app/hello.txt",
                    "hello from a small layer\n".getBytes(StandardCharsets.UTF_8),
                    0644)
                .symlink("/opt/app/java", "/opt/jdk/bin/java"))
        .config(c -> c.entrypoint("/opt/app/java", "-version"));
  }

  /** The event's type: its simple class name. */
  static String type(BakeEvent e) {
    return e.getClass().getSimpleName();
  }

  /** What the event is about: a layer name, a target, or a subject; "-" for the image. */
  static String subject(BakeEvent e) {
    if (e instanceof BakeEvent.InputsHashed x) {
      return x.layer();
    } else if (e instanceof BakeEvent.LayerStarted x) {
      return x.layer();
    } else if (e instanceof BakeEvent.CacheHit x) {
      return x.layer();
    } else if (e instanceof BakeEvent.LayerProvisioned x) {
      return x.layer();
    } else if (e instanceof BakeEvent.BytesWritten x) {
      return x.subject();
    } else if (e instanceof BakeEvent.ImagePublished x) {
      return x.target();
    }
    return "-";
  }
}
