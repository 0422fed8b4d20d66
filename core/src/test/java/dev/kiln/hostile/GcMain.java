package dev.kiln.hostile;

import dev.kiln.GcPolicy;
import dev.kiln.Kiln;
import dev.kiln.RetentionReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A collector for {@link GcWhileBakingIT}: {@code GcMain STORE STOPFILE} collects everything it may
 * ({@code maxBytes(0)}, no grace period) again and again until STOPFILE exists. Prints one summary
 * line per run; a failed run prints its stack trace and exits 1.
 */
public final class GcMain {
  public static void main(String[] args) throws Exception {
    Path store = Path.of(args[0]);
    Path stop = Path.of(args[1]);
    GcPolicy policy = GcPolicy.of().maxBytes(0).grace(Duration.ZERO);
    try (Kiln kiln = Kiln.builder().store(store).gc(GcPolicy.none()).build()) {
      while (!Files.exists(stop)) {
        RetentionReport r = kiln.gc(policy);
        System.out.println(r.summary());
        System.out.flush();
        Thread.sleep(20);
      }
    } catch (Throwable t) {
      t.printStackTrace(System.out);
      System.out.flush();
      System.exit(1);
    }
  }
}
