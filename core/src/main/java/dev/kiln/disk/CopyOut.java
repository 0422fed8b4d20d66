package dev.kiln.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;

/**
 * Brings a disk from where it is made to where it goes: sparse copies with {@code cp} (in the
 * background while the last steps still change the scratch disk, then those changes carried over to
 * the copy), the flush of {@link DiskBuilder#durableWrites}, and the atomic move onto the output.
 */
final class CopyOut {
  private final HostTools tools;

  CopyOut(HostTools tools) {
    this.tools = tools;
  }

  /**
   * Starts {@code cp --sparse=always} of {@code from} to {@code to} on {@code background}; with
   * {@code reflink}, {@code --reflink=auto} too (the file system may share the blocks).
   */
  Future<HostTools.Result> start(BackgroundWork background, Path from, Path to, boolean reflink) {
    List<String> cmd = command(from, to, reflink);
    return background.submit(() -> HostTools.run(cmd, Map.of(), null, true));
  }

  private List<String> command(Path from, Path to, boolean reflink) {
    List<String> cmd = new ArrayList<>(List.of(tools.path("cp"), "--sparse=always"));
    if (reflink) {
      cmd.add("--reflink=auto");
    }
    cmd.add(from.toString());
    cmd.add(to.toString());
    return List.copyOf(cmd);
  }

  /**
   * Brings a finished disk from the scratch directory to {@code result} next to the output: a
   * rename when it is already in the work directory, else a sparse copy.
   */
  void finish(Path disk, Path result, Steps steps) throws IOException, DiskException {
    if (disk.getParent().equals(result.getParent())) {
      Files.move(disk, result, StandardCopyOption.ATOMIC_MOVE);
      return;
    }
    HostTools.run(command(disk, result, false), Map.of(), null, true);
    Files.delete(disk);
    steps.mark("copy out");
  }

  /**
   * Writes the byte ranges {position, length} of {@code from} that changed after its copy {@code
   * to} was started over that copy.
   */
  static void carryOver(Path from, Path to, List<long[]> written) throws IOException {
    try (FileChannel src = FileChannel.open(from, StandardOpenOption.READ);
        FileChannel dst = FileChannel.open(to, StandardOpenOption.WRITE)) {
      for (long[] w : coalesce(written)) {
        ByteBuffer b = ByteBuffer.allocate((int) w[1]);
        DiskFiles.readFully(src, b, w[0]);
        b.flip();
        DiskFiles.writeFully(dst, b, w[0]);
      }
    }
  }

  /** Byte ranges {position, length} sorted and merged where they touch or overlap. */
  static List<long[]> coalesce(List<long[]> ranges) {
    List<long[]> sorted = new ArrayList<>(ranges);
    sorted.sort((a, b) -> Long.compare(a[0], b[0]));
    List<long[]> out = new ArrayList<>();
    for (long[] r : sorted) {
      long[] last = out.isEmpty() ? null : out.get(out.size() - 1);
      if (last != null && r[0] <= last[0] + last[1] && last[1] < (8 << 20)) {
        last[1] = Math.max(last[1], r[0] + r[1] - last[0]);
      } else {
        out.add(new long[] {r[0], r[1]});
      }
    }
    return out;
  }

  /** Flushes {@code result} to stable storage. */
  static void flush(Path result) throws IOException {
    try (FileChannel ch = FileChannel.open(result, StandardOpenOption.WRITE)) {
      ch.force(false);
    }
  }

  /** Replaces {@code out} with {@code result} atomically. */
  static void moveOnto(Path result, Path out) throws IOException {
    Files.move(result, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
