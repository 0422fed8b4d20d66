package dev.kiln.testing;

/**
 * Waits until files just written are older than one timestamp tick. Kiln remembers a file's digest
 * under its stat only once the stat has settled (a write in the same tick could leave it
 * unchanged), so a test that asserts a rebake reads no file writes its inputs, settles, then bakes,
 * as inputs in real use are older than that.
 */
public final class Settle {
  private Settle() {}

  public static void inputs() {
    try {
      Thread.sleep(60);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
