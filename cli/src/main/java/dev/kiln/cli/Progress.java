package dev.kiln.cli;

import dev.kiln.event.BakeEvent;
import dev.kiln.event.BakeListener;
import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What a person at a terminal sees while Kiln works: one line per layer (cached or built, with size
 * and time), a progress bar for long writes redrawn in place, one line per published target.
 * Thread-safe: events arrive from worker threads.
 */
final class Progress implements BakeListener {
  private final PrintWriter out;
  private final Map<String, Integer> lastPercent = new ConcurrentHashMap<>();
  private boolean barShown;

  Progress(PrintWriter out) {
    this.out = out;
  }

  @Override
  public synchronized void onEvent(BakeEvent event) {
    // an instanceof chain, not a pattern switch: that is a preview feature in Java 17
    if (event instanceof BakeEvent.BytesWritten e) {
      bar(e);
      return;
    }
    String line = line(event);
    if (line != null) {
      clearBar();
      out.println(line);
    }
  }

  private static String line(BakeEvent event) {
    if (event instanceof BakeEvent.InputsHashed e) {
      return e.filesRead() > 0
          ? String.format(
              "  hashed  %-14s %d of %d files read (%s)",
              e.layer(), e.filesRead(), e.filesChecked(), size(e.bytesRead()))
          : null;
    } else if (event instanceof BakeEvent.CacheHit e) {
      return String.format("  cached  %-14s %s  %s", e.layer(), e.kind(), e.diffId().shortHex());
    } else if (event instanceof BakeEvent.LayerStarted e) {
      return String.format("  build   %-14s %s ...", e.layer(), e.kind());
    } else if (event instanceof BakeEvent.LayerProvisioned e) {
      return String.format(
          "  built   %-14s %s  %s  %s in %d ms",
          e.layer(), e.kind(), e.diffId().shortHex(), size(e.size()), e.took().toMillis());
    } else if (event instanceof BakeEvent.Output e) {
      return String.format("  | %s: %s", e.layer(), e.line());
    } else if (event instanceof BakeEvent.ImagePublished e) {
      return String.format(
          "  %s %s  %s",
          e.reused() ? "present " : "publish ",
          e.target(),
          e.reused() ? "(already there, nothing sent)" : "in " + e.took().toMillis() + " ms");
    } else if (event instanceof BakeEvent.CacheCorrupted e) {
      return String.format("  !! corrupt blob %s evicted: %s", e.digest().shortHex(), e.detail());
    } else if (event instanceof BakeEvent.RemoteCacheHit e) {
      return String.format(
          "  pulled  %-14s %s  %s  %s in %d ms (remote cache)",
          e.layer(), e.kind(), e.digest().shortHex(), size(e.bytes()), e.took().toMillis());
    } else if (event instanceof BakeEvent.RemoteCachePushed e) {
      return String.format(
          "  pushed  %-14s %s  %s to the remote cache",
          e.subject(),
          e.digest().shortHex(),
          e.bytesSent() == 0 ? "(blob already there)" : size(e.bytesSent()));
    } else if (event instanceof BakeEvent.RemoteCacheUnavailable e) {
      return String.format(
          "  !! remote cache %s unavailable (%s: %s); baking locally",
          e.remote(), e.operation(), e.reason());
    } else if (event instanceof BakeEvent.GarbageCollected e) {
      return "  gc " + e.report().summary();
    } else if (event instanceof BakeEvent.Warning e) {
      return "  !! " + e.message();
    }
    return null;
  }

  private void bar(BakeEvent.BytesWritten e) {
    if (e.total() <= 0) {
      return;
    }
    int pct = (int) Math.min(100, 100 * e.done() / e.total());
    Integer prev = lastPercent.put(e.subject(), pct);
    if (prev != null && prev == pct) {
      return;
    }
    int filled = pct / 5;
    out.print(
        String.format(
            "\r\033[K  [%s%s] %3d%% %s of %s  %s",
            "#".repeat(filled),
            ".".repeat(20 - filled),
            pct,
            size(e.done()),
            size(e.total()),
            e.subject()));
    out.flush();
    barShown = true;
  }

  private void clearBar() {
    if (barShown) {
      out.print("\r\033[K");
      barShown = false;
    }
  }

  /** Called when the command is done: the bar's line is cleared. */
  synchronized void finish() {
    clearBar();
    out.flush();
  }

  static String size(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    if (bytes < 1 << 20) {
      return String.format("%.1f KiB", bytes / 1024.0);
    }
    if (bytes < 1L << 30) {
      return String.format("%.1f MiB", bytes / (1024.0 * 1024));
    }
    return String.format("%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  }
}
