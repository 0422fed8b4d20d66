package dev.kiln.testing;

import dev.kiln.BakeResult;
import dev.kiln.Kiln;
import dev.kiln.LayerRecord;
import dev.kiln.event.BakeEvent;
import java.nio.file.Path;

/**
 * A separate process that bakes a tree with a remote cache, for the tests that race writers: {@code
 * RemoteBakeMain STORE TREE REMOTE_URI}. The build is {@link BakeMain#definition}. Prints one line
 * per layer, {@code pushed=N}, {@code unavailable=N} and a final {@code image=} line.
 */
public final class RemoteBakeMain {
  public static void main(String[] args) throws Exception {
    RecordingListener events = new RecordingListener();
    try (Kiln kiln =
        Kiln.builder().store(Path.of(args[0])).remoteCache(args[2]).listener(events).build()) {
      BakeResult r = kiln.bake(BakeMain.definition(Path.of(args[1])));
      for (LayerRecord l : r.layers()) {
        System.out.println(
            "layer "
                + l.name()
                + " key="
                + l.key()
                + " diffId="
                + l.diffId()
                + " digest="
                + l.digest()
                + " size="
                + l.size());
      }
      System.out.println("pushed=" + events.of(BakeEvent.RemoteCachePushed.class).size());
      System.out.println("unavailable=" + events.of(BakeEvent.RemoteCacheUnavailable.class).size());
      System.out.println("image=" + r.digest());
    }
  }
}
