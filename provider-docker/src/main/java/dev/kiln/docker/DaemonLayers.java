package dev.kiln.docker;

import com.github.dockerjava.api.command.InspectImageResponse;
import com.github.dockerjava.api.model.Image;
import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.spi.ImageView;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds which layers of an image the daemon already holds, so that they need not be streamed again.
 */
final class DaemonLayers {
  private static final Logger log = LoggerFactory.getLogger(DaemonLayers.class);
  private static final int MAX_CANDIDATES = 64;

  private DaemonLayers() {}

  /**
   * The number of lowest layers of {@code image} that the daemon holds as a chain: the longest
   * prefix of diffIDs shared with one of {@code names} or with an image under {@code kiln-parent/}.
   * 0 when nothing is shared or the daemon cannot say.
   */
  static int presentPrefix(Daemon daemon, ImageView image, List<String> names) {
    return presentPrefix(daemon, image.layers().stream().map(LayerRecord::diffId).toList(), names);
  }

  /** As {@link #presentPrefix(Daemon, ImageView, List)}, for the layers of these diffIDs. */
  static int presentPrefix(Daemon daemon, List<Digest> diffIds, List<String> names) {
    List<String> want = diffIds.stream().map(Digest::toString).toList();
    if (want.isEmpty()) {
      return 0;
    }
    int best = 0;
    try {
      List<String> candidates = new ArrayList<>(names);
      List<Image> parents =
          daemon.client().listImagesCmd().withReferenceFilter(ParentImages.REPOSITORY + "*").exec();
      for (Image i : parents) {
        if (candidates.size() >= MAX_CANDIDATES) {
          break;
        }
        candidates.add(i.getId());
      }
      for (String c : candidates) {
        Optional<InspectImageResponse> img = daemon.image(c);
        if (img.isEmpty()) {
          continue;
        }
        List<String> have = Daemon.diffIds(img.get());
        int n = 0;
        while (n < have.size() && n < want.size() && have.get(n).equals(want.get(n))) {
          n++;
        }
        best = Math.max(best, n);
        if (best == want.size()) {
          break;
        }
      }
    } catch (RuntimeException e) {
      log.debug("could not list the daemon's images: {}", e.toString());
      return 0;
    }
    return best;
  }

  static long bytes(ImageView image, int fromLayer) {
    long n = 0;
    List<LayerRecord> ls = image.layers();
    for (int i = fromLayer; i < ls.size(); i++) {
      n += ls.get(i).size();
    }
    return n;
  }
}
