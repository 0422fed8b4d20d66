package dev.kiln.disk;

import java.util.ArrayList;
import java.util.List;

/**
 * A simple timer log: the wall-clock milliseconds of each step of a build, in order, for the
 * one-line summary the builder logs ({@code stage 1180 ms, mke2fs 2210 ms, …}). Steps that overlap
 * with background work are timed as the time the caller waited. Not thread-safe.
 */
final class Steps {
  private final long start = System.nanoTime();
  private long last = start;
  private final List<String> names = new ArrayList<>();
  private final List<Long> millis = new ArrayList<>();

  /** Ends the current step. */
  void mark(String name) {
    long now = System.nanoTime();
    names.add(name);
    millis.add((now - last) / 1_000_000);
    last = now;
  }

  long totalMillis() {
    return (System.nanoTime() - start) / 1_000_000;
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < names.size(); i++) {
      if (i > 0) {
        sb.append(", ");
      }
      sb.append(names.get(i)).append(' ').append(millis.get(i)).append(" ms");
    }
    return sb.append(" (total ").append(totalMillis()).append(" ms)").toString();
  }
}
