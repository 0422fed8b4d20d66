package dev.kiln.examples.progress;

import dev.kiln.event.BakeEvent;
import dev.kiln.event.BakeListener;
import java.io.PrintStream;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A console progress display built on bake events: one line per layer (cached or provisioned, with
 * size and time), a progress bar for long writes, one line per published target. Thread-safe:
 * events arrive from worker threads.
 */
public final class ConsoleProgress implements BakeListener {
  private final PrintStream out;
  private final boolean tty;
  private final Map<String, Integer> lastPercent = new ConcurrentHashMap<>();

  public ConsoleProgress(PrintStream out) {
    this.out = out;
    this.tty = System.console() != null;
  }

  @Override
  public synchronized void onEvent(BakeEvent event) {
    // an instanceof chain, not a pattern switch: that is a preview feature in Java 17
    if (event instanceof BakeEvent.InputsHashed e) {
      if (e.filesRead() > 0) {
        out.printf(
            "  hashed  %-14s %d of %d files read (%s)%n",
            e.layer(), e.filesRead(), e.filesChecked(), size(e.bytesRead()));
      }
    } else if (event instanceof BakeEvent.CacheHit e) {
      out.printf("  cached  %-14s %s  %s%n", e.layer(), e.kind(), e.diffId().shortHex());
    } else if (event instanceof BakeEvent.LayerStarted e) {
      out.printf("  build   %-14s %s ...%n", e.layer(), e.kind());
    } else if (event instanceof BakeEvent.LayerProvisioned e) {
      out.printf(
          "  built   %-14s %s  %s  %s in %d ms%n",
          e.layer(), e.kind(), e.diffId().shortHex(), size(e.size()), e.took().toMillis());
    } else if (event instanceof BakeEvent.BytesWritten e) {
      bar(e);
    } else if (event instanceof BakeEvent.Output e) {
      out.printf("  | %s: %s%n", e.layer(), e.line());
    } else if (event instanceof BakeEvent.ImagePublished e) {
      clearBar();
      out.printf(
          "  %s %s  %s%n",
          e.reused() ? "present " : "publish ",
          e.target(),
          e.reused() ? "(already there, nothing sent)" : "in " + e.took().toMillis() + " ms");
    } else if (event instanceof BakeEvent.CacheCorrupted e) {
      out.printf("  !! corrupt blob %s evicted: %s%n", e.digest().shortHex(), e.detail());
    } else if (event instanceof BakeEvent.RemoteCacheHit e) {
      out.printf(
          "  pulled  %-14s %s  %s  %s in %d ms (remote cache)%n",
          e.layer(), e.kind(), e.digest().shortHex(), size(e.bytes()), e.took().toMillis());
    } else if (event instanceof BakeEvent.RemoteCachePushed e) {
      out.printf(
          "  pushed  %-14s %s  %s to the remote cache%n",
          e.subject(),
          e.digest().shortHex(),
          e.bytesSent() == 0 ? "(blob already there)" : size(e.bytesSent()));
    } else if (event instanceof BakeEvent.RemoteCacheUnavailable e) {
      out.printf(
          "  !! remote cache %s unavailable (%s: %s); baking locally%n",
          e.remote(), e.operation(), e.reason());
    } else if (event instanceof BakeEvent.Warning e) {
      out.printf("  !! %s%n", e.message());
    }
  }

  private void bar(BakeEvent.BytesWritten e) {
    if (e.total() <= 0) {
      return;
    }
    int pct = (int) (100 * e.done() / e.total());
    Integer prev = lastPercent.put(e.subject(), pct);
    if (prev != null && prev / 10 == pct / 10 && pct != 100) {
      return;
    }
    int filled = pct / 5;
    String line =
        String.format(
            "  [%s%s] %3d%% %s of %s  %s",
            "#".repeat(filled),
            ".".repeat(20 - filled),
            pct,
            size(e.done()),
            size(e.total()),
            e.subject());
    if (tty) {
      out.print("\r" + line);
    } else {
      out.println(line);
    }
  }

  private void clearBar() {
    if (tty) {
      out.print("\r\033[K");
    }
  }

  static String size(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    if (bytes < 1 << 20) {
      return String.format("%.1f KiB", bytes / 1024.0);
    }
    return String.format("%.1f MiB", bytes / (1024.0 * 1024));
  }
}
