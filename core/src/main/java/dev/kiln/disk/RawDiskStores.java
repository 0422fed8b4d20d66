package dev.kiln.disk;

import dev.kiln.BakeException;
import dev.kiln.ImageStoreException;
import dev.kiln.PublishedImage;
import dev.kiln.Target;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.LocalOutput;
import dev.kiln.spi.PublishContext;
import dev.kiln.spi.TargetTempFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The {@code raw:FILE} store: copies the image's cached disk to FILE, sparsely (zero blocks become
 * holes).
 */
public final class RawDiskStores implements ImageStoreProvider {

  @Override
  public Set<String> schemes() {
    return Set.of("raw");
  }

  @Override
  public ImageStore create(Target target) {
    return new RawStore(DiskTarget.parse(target));
  }

  /** The engine's disk cache, or a clear error when the engine does not offer one. */
  public static DiskCache diskCache(PublishContext ctx, String target) throws ImageStoreException {
    return ctx.capability(DiskCache.class)
        .orElseThrow(
            () -> new ImageStoreException(target, "this Kiln engine offers no disk cache"));
  }

  private static final class RawStore implements ImageStore {
    private final DiskTarget target;

    RawStore(DiskTarget target) {
      this.target = target;
    }

    @Override
    public Optional<LocalOutput> localOutput() {
      // the options are the name: two disks of one file with different options are two different
      // files
      return Optional.of(new LocalOutput(target.file(), "raw", target.options().toString(), false));
    }

    @Override
    public Optional<PublishedImage> find(ImageView image, PublishContext ctx) throws BakeException {
      TargetTempFile.sweep(target.file().getParent(), tempPrefix(target.file()));
      if (!Files.isRegularFile(target.file())) {
        return Optional.empty();
      }
      DiskCache.CachedDisk disk = diskCache(ctx, target.toString()).disk(image, target.options());
      try {
        if (Files.size(target.file()) == disk.image().size()
            && diskCache(ctx, target.toString()).digestOf(target.file()).equals(disk.sha256())) {
          return Optional.of(published(image, disk));
        }
      } catch (IOException e) {
        return Optional.empty();
      }
      return Optional.empty();
    }

    @Override
    public PublishedImage publish(ImageView image, PublishContext ctx) throws BakeException {
      DiskCache.CachedDisk disk = diskCache(ctx, target.toString()).disk(image, target.options());
      Path out = target.file();
      // a locked temp file: one left by a killed writer is removed by the next bake of this target
      try {
        Files.createDirectories(out.getParent());
        try (TargetTempFile tmp = TargetTempFile.create(out.getParent(), tempPrefix(out))) {
          sparseCopy(
              disk.path(),
              tmp.channel(),
              (done, total) ->
                  ctx.emit(new BakeEvent.BytesWritten(target.toString(), done, total)));
          tmp.moveTo(out);
        }
        return published(image, disk);
      } catch (IOException e) {
        throw new ImageStoreException(
            target.toString(), "could not write the disk: " + e.getMessage(), e);
      }
    }

    private PublishedImage published(ImageView image, DiskCache.CachedDisk disk) {
      return new PublishedImage(
          target.toString(),
          image.digest(),
          false,
          Map.of(
              "file", target.file().toString(),
              "diskSha256", disk.sha256().toString(),
              "size", Long.toString(disk.image().size()),
              "kernel", disk.image().kernel().orElse("")));
    }
  }

  /** Progress of a copy. */
  public interface Progress {
    void copied(long done, long total);
  }

  private static String tempPrefix(Path out) {
    return "." + out.getFileName();
  }

  /**
   * Copies {@code from} to {@code to}, leaving holes where {@code from} has all-zero 1 MiB chunks.
   */
  public static void sparseCopy(Path from, Path to, Progress progress) throws IOException {
    try (FileChannel out =
        FileChannel.open(to, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      sparseCopy(from, out, progress);
    }
  }

  /**
   * Copies {@code from} into the empty file open as {@code out}, leaving holes for all-zero 1 MiB
   * chunks.
   */
  static void sparseCopy(Path from, FileChannel out, Progress progress) throws IOException {
    final int chunk = 1 << 20;
    try (FileChannel in = FileChannel.open(from, StandardOpenOption.READ)) {
      long size = in.size();
      ByteBuffer buf = ByteBuffer.allocateDirect(chunk);
      long pos = 0;
      long lastReport = 0;
      while (pos < size) {
        buf.clear();
        int n = 0;
        while (buf.hasRemaining()) {
          int r = in.read(buf, pos + n);
          if (r < 0) {
            break;
          }
          n += r;
        }
        buf.flip();
        if (!allZero(buf)) {
          long at = pos;
          while (buf.hasRemaining()) {
            at += out.write(buf, at);
          }
        }
        pos += n;
        if (pos - lastReport >= 64L * chunk || pos == size) {
          progress.copied(pos, size);
          lastReport = pos;
        }
      }
      out.truncate(size);
      if (out.size() < size) {
        out.write(ByteBuffer.allocate(1), size - 1);
      }
    }
  }

  private static boolean allZero(ByteBuffer b) {
    int i = b.position();
    int end = b.limit();
    for (; i + 8 <= end; i += 8) {
      if (b.getLong(i) != 0) {
        return false;
      }
    }
    for (; i < end; i++) {
      if (b.get(i) != 0) {
        return false;
      }
    }
    return true;
  }
}
