package dev.kiln.disk;

import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.spi.ImageView;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Raw disks of images, built once per (image key, options) and kept in the local store: the
 * engine's capability that every disk-consuming store ({@code raw:}, {@code vmdk:}, {@code ova:},
 * {@code ec2://}) asks for through {@code PublishContext.capability(DiskCache.class)}. An image's
 * disk extends its base's disk (see {@link ImageView#bases()}), and both are cached, so the disk of
 * an app image differs from its base's disk in as few blocks as possible. Thread-safe; concurrent
 * processes coordinate through the store's locks.
 */
public interface DiskCache {

  /**
   * A cached disk: the image it was built for, its content digest, and the file (read-only: copy,
   * never modify).
   */
  record CachedDisk(DiskImage image, Digest sha256, Digest key) {
    public Path path() {
      return image.path();
    }
  }

  /** The disk of the image with these options, built (and its bases' disks) if not cached. */
  CachedDisk disk(ImageView image, DiskOptions options) throws BakeException;

  /**
   * The cached disk of the image's innermost-but-one base, when the image has a base: what the disk
   * of this image extends (the EC2 provider uploads only the blocks that differ from it).
   */
  java.util.Optional<CachedDisk> baseDisk(ImageView image, DiskOptions options)
      throws BakeException;

  /** The SHA-256 of a file, answered by the store's stat index when the file is unchanged. */
  Digest digestOf(Path file) throws IOException;
}
