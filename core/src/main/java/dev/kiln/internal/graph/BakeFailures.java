package dev.kiln.internal.graph;

import dev.kiln.BakeException;
import java.util.concurrent.CompletionException;

/** What a bake that failed on another thread throws in the thread that waits for it. */
public final class BakeFailures {
  private BakeFailures() {}

  /**
   * The failure behind {@code t}, completion wrappers taken off: a {@link RuntimeException} or
   * {@link Error} is thrown as it is; a {@link BakeException} is returned for the caller to throw,
   * and any other exception is returned wrapped in one.
   */
  public static BakeException unwrap(Throwable t) {
    Throwable c = t;
    while (c instanceof CompletionException && c.getCause() != null) {
      c = c.getCause();
    }
    if (c instanceof BakeException be) {
      return be;
    }
    if (c instanceof RuntimeException re) {
      throw re;
    }
    if (c instanceof Error err) {
      throw err;
    }
    return new BakeException(String.valueOf(c), c);
  }
}
