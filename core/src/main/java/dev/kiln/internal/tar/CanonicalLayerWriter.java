package dev.kiln.internal.tar;

import static com.google.common.base.Preconditions.checkArgument;

import dev.kiln.Digest;
import dev.kiln.spi.InputChangedException;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerEntry.Type;
import dev.kiln.spi.LayerWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one {@link LayerWriter}: turns entries, in any order, into a canonical gzip-compressed PAX
 * tar (see {@link TarWriter} for the header form) whose diffID and blob digest depend only on the
 * entries' paths, metadata and content, never on the order of {@code add} calls, the source files'
 * names or times, or thread timing.
 *
 * <p>Canonical form: the last entry added for a path wins; parent directories the layer does not
 * declare are NOT invented: a layer adding {@code tmp/x} or {@code lib/x} leaves the lower layers'
 * {@code /tmp} (mode 1777) and {@code /lib} (a symlink on merged-/usr systems) as they are, and
 * extractors create a parent that exists nowhere as a 0755 root directory, which is what an
 * explicit entry would have said; entries are sorted by {@link PathOrder} (a directory right before
 * its children, whiteouts before their siblings); every entry carries the one fixed mtime;
 * deletions become OCI whiteout files ({@code dir/.wh.NAME}, {@code dir/.wh..wh..opq}: empty, mode
 * 0). Files hard-linked to each other within the layer are stored once, under the first of their
 * paths in that order, and the other paths link to it, so tar readers always meet the content
 * before the links; a hard link whose target is not in the layer is kept as is (it links to a lower
 * layer's file), unless the layer is the {@link #lowest()} of its image.
 *
 * <p>Rejected, with an {@link IllegalArgumentException} naming both paths: an entry under a symlink
 * of the same layer, an entry under a path of the same layer that is not a directory, a name
 * starting with {@code .wh.}, and hard links to directories, to deleted paths or in a cycle.
 *
 * <p>Memory holds metadata only: {@link #add(LayerEntry)} opens content when the layer is written,
 * and {@link #add(LayerEntry, InputStream)} spools content to one append-only temp file in {@code
 * tmpDir}. The tar is hashed (diffID) on the calling thread while a {@link
 * ParallelGzipOutputStream} compresses it on the executor, cut into chunks at entry boundaries that
 * depend on the entries alone ({@link #cutsBefore}), so that {@link #reuseChunks} can copy the
 * compressed chunks an earlier version of the layer shares with this one. Not thread-safe: one
 * thread adds, then finishes.
 */
public final class CanonicalLayerWriter implements LayerWriter {
  private static final Logger log = LoggerFactory.getLogger(CanonicalLayerWriter.class);

  private static final int IO_BUFFER = 256 * 1024;

  /** Files this large get gzip chunks of their own (see {@link #cutsBefore}). */
  static final long LARGE_FILE = 512 * 1024;

  /** The least a chunk holds before a small entry may cut it (see {@link #cutsBefore}). */
  static final int MIN_CHUNK = 512 * 1024;

  private static final String WHITEOUT_PREFIX = ".wh.";
  private static final String OPAQUE_NAME = ".wh..wh..opq";

  private final Path tmpDir;
  private final long mtime;
  private final int gzipLevel;
  private final Executor compressors;

  /**
   * Entries by path, including whiteouts (a file and a whiteout of one path replace each other).
   */
  // insertion order: callers that add in canonical order (the files provisioner does) make the
  // sorts below linear
  private final Map<String, Item> byPath = new LinkedHashMap<>();

  /** Directories whose lower-layer contents are hidden. */
  private final Set<String> opaqueDirs = new HashSet<>();

  private Path spool;
  private FileChannel spoolChannel;
  private long spoolSize;
  private Path output;
  private byte[] buffer;
  private boolean finished;
  private boolean done;
  private ParallelGzipOutputStream.ChunkSource previousChunks;
  private ChunkSink chunkSink;
  private boolean lowest;

  /**
   * A writer whose output and spool files go to {@code tmpDir}, stamping every entry with {@code
   * mtimeEpochSeconds} and compressing at {@code gzipLevel} (0-9) on {@code compressors}.
   */
  public CanonicalLayerWriter(
      Path tmpDir, long mtimeEpochSeconds, int gzipLevel, Executor compressors) {
    this.tmpDir = Objects.requireNonNull(tmpDir, "tmpDir");
    checkArgument(
        mtimeEpochSeconds >= 0,
        "layer mtime must not be before the epoch, found %s",
        mtimeEpochSeconds);
    checkArgument(gzipLevel >= 0 && gzipLevel <= 9, "gzip level must be 0-9, found %s", gzipLevel);
    this.mtime = mtimeEpochSeconds;
    this.gzipLevel = gzipLevel;
    this.compressors = Objects.requireNonNull(compressors, "compressors");
  }

  @Override
  public void add(LayerEntry entry) throws IOException {
    checkOpen();
    Objects.requireNonNull(entry, "entry");
    checkNotReserved(entry.path());
    if (entry.type() == Type.OPAQUE_WHITEOUT) {
      opaqueDirs.add(entry.path());
    } else {
      byPath.put(entry.path(), new Item(entry, -1));
    }
  }

  @Override
  public void add(LayerEntry entry, InputStream content) throws IOException {
    checkOpen();
    Objects.requireNonNull(entry, "entry");
    Objects.requireNonNull(content, "content");
    checkArgument(
        entry.type() == Type.FILE,
        "add(entry, content) takes FILE entries, but '%s' is a %s: use add(entry)",
        entry.path(),
        entry.type());
    checkNotReserved(entry.path());
    long offset = spool(entry, content);
    byPath.put(entry.path(), new Item(entry, offset));
  }

  @Override
  public LayerBlob finish() throws IOException {
    checkOpen();
    finished = true;
    long start = System.nanoTime();
    ParallelGzipOutputStream gz = null;
    try {
      List<Item> items = canonicalize();
      output = Files.createTempFile(tmpDir, "kiln-layer-", ".tar.gz");
      gz = new ParallelGzipOutputStream(Files.newOutputStream(output), compressors, gzipLevel);
      if (chunkSink != null) {
        gz.reuseChunks(previousChunks);
      }
      HashingOutputStream tarOut = new HashingOutputStream(gz);
      TarWriter tar = new TarWriter(tarOut, mtime);
      buffer = new byte[IO_BUFFER];
      boolean afterLarge = false;
      for (Item item : items) {
        boolean large = item.entry.type() == Type.FILE && item.entry.size() >= LARGE_FILE;
        if (large || afterLarge) {
          gz.cut();
        } else if (cutsBefore(item.entry.path())) {
          gz.cutIfAtLeast(MIN_CHUNK);
        }
        afterLarge = large;
        write(tar, tarOut, item);
      }
      tar.finish();
      gz.close();
      LayerBlob blob =
          new LayerBlob(
              tarOut.digest(),
              gz.digest(),
              gz.compressedSize(),
              tarOut.count(),
              items.size(),
              output);
      done = true;
      if (chunkSink != null) {
        List<ParallelGzipOutputStream.ChunkRecord> chunks = gz.chunks();
        log.debug(
            "layer {}: {} of {} gzip chunks ({} bytes) copied from the layer's previous version",
            blob.diffId().shortHex(),
            gz.reusedChunks(),
            chunks.size(),
            gz.reusedBytes());
        try {
          chunkSink.accept(blob.digest(), chunks, gz.reusedChunks());
        } catch (IOException | RuntimeException e) {
          log.debug(
              "could not save the gzip chunks of layer {}: {}",
              blob.digest().shortHex(),
              e.toString());
        }
      }
      log.debug(
          "wrote layer {}: {} entries, {} bytes, {} compressed, in {} ms",
          blob.diffId().shortHex(),
          items.size(),
          blob.uncompressedSize(),
          blob.size(),
          (System.nanoTime() - start) / 1_000_000);
      return blob;
    } catch (IOException | RuntimeException | Error e) {
      if (gz != null) {
        gz.abort();
      }
      deleteQuietly(output, e);
      throw e;
    } finally {
      buffer = null;
      closeSpool();
      closePreviousChunks();
    }
  }

  /**
   * Where the gzip stream is cut between entries: before and after every file of {@value
   * #LARGE_FILE} bytes or more (whose chunks then start at the file's own header), and before a
   * small entry whose path hashes to 0 modulo 16 when the chunk holds {@value #MIN_CHUNK} bytes or
   * more (smaller chunks cost compression time: fewer bytes in flight per chunk). The first rule
   * depends on the entry alone; the second on the entry and the bytes since the last cut, so after
   * a change the cuts fall where they fell before from the next cut both versions share (within a
   * chunk or two), and the chunks away from the change are the same bytes as in the layer's
   * previous version.
   */
  static boolean cutsBefore(String path) {
    int h = path.hashCode(); // specified by String: the same on every JVM
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    return (h & 15) == 0;
  }

  /**
   * Lets {@link #finish()} copy the gzip chunks that {@code previous} (an earlier version of this
   * layer; may be null) shares with this one, and hands the chunks of the new blob to {@code sink}.
   * The output is the same either way. The writer closes {@code previous}.
   */
  public CanonicalLayerWriter reuseChunks(
      ParallelGzipOutputStream.ChunkSource previous, ChunkSink sink) {
    checkOpen();
    this.previousChunks = previous;
    this.chunkSink = Objects.requireNonNull(sink, "sink");
    return this;
  }

  /**
   * Marks the layer as the lowest of its image (a root file system): nothing is below it, so a hard
   * link to a path the layer does not hold is refused (an extractor could not create it) instead of
   * being kept for a lower layer.
   */
  public CanonicalLayerWriter lowest() {
    checkOpen();
    this.lowest = true;
    return this;
  }

  /**
   * Receives the chunks of a finished layer blob, and how many of them were copied from the
   * previous version.
   */
  public interface ChunkSink {
    void accept(Digest blob, List<ParallelGzipOutputStream.ChunkRecord> chunks, int copied)
        throws IOException;
  }

  private void closePreviousChunks() {
    if (previousChunks instanceof java.io.Closeable c) {
      try {
        c.close();
      } catch (IOException e) {
        log.debug("closing the previous chunks failed: {}", e.toString());
      }
    }
    previousChunks = null;
  }

  /**
   * Discards the output and spool files unless {@link #finish()} returned; the writer cannot be
   * used afterwards.
   */
  @Override
  public void close() throws IOException {
    if (!done) {
      closeSpool();
      deleteQuietly(output, null);
    }
    closePreviousChunks();
    finished = true;
    done = true;
  }

  private void checkOpen() {
    if (finished) {
      throw new IllegalStateException("layer writer already finished or closed");
    }
  }

  private static void checkNotReserved(String path) {
    for (String segment : path.split("/")) {
      checkArgument(
          !segment.startsWith(WHITEOUT_PREFIX),
          "layer entry '%s': names starting with '.wh.' are reserved for OCI whiteouts; "
              + "use LayerEntry.whiteout or opaqueWhiteout",
          path);
    }
  }

  /** Copies exactly {@code entry.size()} bytes to the spool file and returns their offset. */
  private long spool(LayerEntry entry, InputStream content) throws IOException {
    if (spoolChannel == null) {
      spool = Files.createTempFile(tmpDir, "kiln-spool-", ".bin");
      // Written sequentially at the channel position, read back with positional reads that leave it
      // alone.
      spoolChannel = FileChannel.open(spool, StandardOpenOption.READ, StandardOpenOption.WRITE);
      buffer = new byte[IO_BUFFER];
    }
    long offset = spoolSize;
    long remaining = entry.size();
    while (remaining > 0) {
      int n = content.read(buffer, 0, (int) Math.min(buffer.length, remaining));
      if (n < 0) {
        throw new IOException(
            String.format(
                "content of layer entry '%s' ended after %d of its %d bytes",
                entry.path(), entry.size() - remaining, entry.size()));
      }
      ByteBuffer bb = ByteBuffer.wrap(buffer, 0, n);
      while (bb.hasRemaining()) {
        spoolChannel.write(bb);
      }
      remaining -= n;
    }
    if (content.read() >= 0) {
      throw new IOException(
          String.format(
              "content of layer entry '%s' is longer than its declared %d bytes",
              entry.path(), entry.size()));
    }
    spoolSize += entry.size();
    return offset;
  }

  /**
   * Validates the entries and returns them in canonical form and order: parents added, hard links
   * re-rooted, whiteouts and opaque markers as the items that stand for their tar files.
   */
  private List<Item> canonicalize() {
    Map<String, Item> all = new LinkedHashMap<>(byPath);
    // Checked in sorted order, so that the first error reported does not depend on hashing.
    List<String> paths = new ArrayList<>(all.keySet());
    paths.sort(PathOrder.COMPARATOR);
    for (String path : paths) {
      checkAncestors(path, "layer entry '" + path + "'");
    }
    TreeSet<String> opaque = new TreeSet<>(PathOrder.COMPARATOR);
    opaque.addAll(opaqueDirs);
    for (String dir : opaque) {
      String what = "opaque whiteout of '" + dir + "'";
      checkAncestors(dir, what);
      Item self = all.get(dir);
      if (self != null) {
        checkDirectory(self, what, dir);
      }
    }
    relinkHardlinks(all, paths);

    for (String dir : opaque) {
      all.computeIfAbsent(dir, d -> new Item(LayerEntry.directory(d, 0755), -1));
    }

    // sort keys are unique: '.wh.' names are reserved for the whiteouts and opaque markers that
    // stand for them
    List<Map.Entry<String, Item>> sorted = new ArrayList<>(all.size() + opaque.size());
    for (Item item : all.values()) {
      sorted.add(Map.entry(sortKey(item.entry), item));
    }
    for (String dir : opaque) {
      sorted.add(Map.entry(dir + "/" + OPAQUE_NAME, new Item(LayerEntry.opaqueWhiteout(dir), -1)));
    }
    sorted.sort(Map.Entry.comparingByKey(PathOrder.COMPARATOR));
    List<Item> items = new ArrayList<>(sorted.size());
    sorted.forEach(e -> items.add(e.getValue()));
    return items;
  }

  private void checkAncestors(String path, String what) {
    int slash = -1;
    while ((slash = path.indexOf('/', slash + 1)) >= 0) {
      String parent = path.substring(0, slash);
      Item p = byPath.get(parent);
      if (p != null) {
        checkDirectory(p, what, parent);
      }
    }
  }

  private static void checkDirectory(Item item, String what, String path) {
    LayerEntry e = item.entry;
    if (e.type() == Type.SYMLINK) {
      throw new IllegalArgumentException(
          String.format(
              "%s would be written through symlink '%s' -> '%s' of the same layer",
              what, path, e.linkTarget()));
    }
    if (e.type() == Type.WHITEOUT) {
      throw new IllegalArgumentException(
          String.format(
              "%s needs directory '%s', which the same layer deletes with a whiteout; to replace a lower "
                  + "directory with a fresh one, add LayerEntry.directory and LayerEntry.opaqueWhiteout for it",
              what, path));
    }
    if (e.type() != Type.DIRECTORY) {
      throw new IllegalArgumentException(
          String.format(
              "%s needs '%s' to be a directory, but the same layer has it as a %s",
              what, path, e.type()));
    }
  }

  /**
   * Stores each group of hard-linked paths of this layer once: the first path in canonical order
   * gets the content and the inode's metadata, the others become links to it, whichever path the
   * caller declared as the file.
   */
  private void relinkHardlinks(Map<String, Item> all, List<String> sortedPaths) {
    Map<String, List<String>> groups = new TreeMap<>(PathOrder.COMPARATOR);
    for (String path : sortedPaths) {
      Item item = all.get(path);
      if (item.entry.type() != Type.HARDLINK) {
        continue;
      }
      String what = "hard link '" + path + "' -> '" + item.entry.linkTarget() + "'";
      String target = item.entry.linkTarget();
      Set<String> seen = new HashSet<>();
      seen.add(path);
      Item t;
      while ((t = all.get(target)) != null && t.entry.type() == Type.HARDLINK) {
        checkArgument(seen.add(target), "%s is part of a cycle of hard links", what);
        target = t.entry.linkTarget();
      }
      checkArgument(!seen.contains(target), "%s is part of a cycle of hard links", what);
      checkAncestors(target, what);
      if (t == null) {
        checkArgument(
            !lowest, "%s: the target is not in the layer, and no layer is below it", what);
        // A file of a lower layer: the link is applied on top of it.
        if (!target.equals(item.entry.linkTarget())) {
          all.put(path, new Item(withPath(item.entry, path, target), -1));
        }
        continue;
      }
      checkArgument(t.entry.type() != Type.DIRECTORY, "%s: cannot hard-link a directory", what);
      checkArgument(
          t.entry.type() != Type.WHITEOUT,
          "%s: the target is deleted by a whiteout of the same layer",
          what);
      groups.computeIfAbsent(target, k -> new ArrayList<>()).add(path);
    }
    for (Map.Entry<String, List<String>> g : groups.entrySet()) {
      Item inode = all.get(g.getKey());
      String owner = g.getKey();
      for (String member : g.getValue()) {
        if (PathOrder.compare(member, owner) < 0) {
          owner = member;
        }
      }
      LayerEntry meta = inode.entry;
      all.put(owner, new Item(withPath(meta, owner, meta.linkTarget()), inode.spoolOffset));
      List<String> links = new ArrayList<>(g.getValue());
      links.add(g.getKey());
      for (String link : links) {
        if (!link.equals(owner)) {
          all.put(
              link,
              new Item(
                  new LayerEntry(
                      link,
                      Type.HARDLINK,
                      meta.mode(),
                      meta.uid(),
                      meta.gid(),
                      0,
                      owner,
                      0,
                      0,
                      Map.of(),
                      null),
                  -1));
        }
      }
    }
  }

  private static LayerEntry withPath(LayerEntry e, String path, String linkTarget) {
    return new LayerEntry(
        path,
        e.type(),
        e.mode(),
        e.uid(),
        e.gid(),
        e.size(),
        linkTarget,
        e.devMajor(),
        e.devMinor(),
        e.xattrs(),
        e.content());
  }

  /** The path an item sorts by: its tar name without the trailing slash of directories. */
  private static String sortKey(LayerEntry e) {
    if (e.type() == Type.WHITEOUT) {
      String path = e.path();
      int slash = path.lastIndexOf('/');
      return path.substring(0, slash + 1) + WHITEOUT_PREFIX + path.substring(slash + 1);
    }
    return e.path();
  }

  private void write(TarWriter tar, HashingOutputStream tarOut, Item item) throws IOException {
    LayerEntry e = item.entry;
    switch (e.type()) {
      case FILE:
        tar.writeHeader(
            e.path(),
            TarWriter.REGULAR,
            e.mode(),
            e.uid(),
            e.gid(),
            e.size(),
            "",
            0,
            0,
            e.xattrs());
        copyContent(item, tarOut);
        tar.pad(e.size());
        break;
      case DIRECTORY:
        tar.writeHeader(
            e.path() + "/",
            TarWriter.DIRECTORY,
            e.mode(),
            e.uid(),
            e.gid(),
            0,
            "",
            0,
            0,
            e.xattrs());
        break;
      case SYMLINK:
        tar.writeHeader(
            e.path(),
            TarWriter.SYMLINK,
            e.mode(),
            e.uid(),
            e.gid(),
            0,
            e.linkTarget(),
            0,
            0,
            e.xattrs());
        break;
      case HARDLINK:
        tar.writeHeader(
            e.path(),
            TarWriter.HARDLINK,
            e.mode(),
            e.uid(),
            e.gid(),
            0,
            e.linkTarget(),
            0,
            0,
            Map.of());
        break;
      case CHAR_DEVICE:
      case BLOCK_DEVICE:
      case FIFO:
        char type =
            e.type() == Type.CHAR_DEVICE
                ? TarWriter.CHAR_DEVICE
                : e.type() == Type.BLOCK_DEVICE ? TarWriter.BLOCK_DEVICE : TarWriter.FIFO;
        tar.writeHeader(
            e.path(),
            type,
            e.mode(),
            e.uid(),
            e.gid(),
            0,
            "",
            e.devMajor(),
            e.devMinor(),
            e.xattrs());
        break;
      case WHITEOUT:
        tar.writeHeader(sortKey(e), TarWriter.REGULAR, 0, 0, 0, 0, "", 0, 0, Map.of());
        break;
      case OPAQUE_WHITEOUT:
        tar.writeHeader(
            e.path() + "/" + OPAQUE_NAME, TarWriter.REGULAR, 0, 0, 0, 0, "", 0, 0, Map.of());
        break;
      default:
        throw new IllegalStateException("unknown entry type " + e.type());
    }
  }

  /**
   * Copies exactly the declared size, failing if the source turns out shorter or longer than it was
   * declared. Content given as {@link LayerEntry.Content#hashed} is hashed on its way and must have
   * its digest: the layer holds the bytes its cache key was computed from, or is not written at
   * all.
   */
  private void copyContent(Item item, OutputStream tarOut) throws IOException {
    LayerEntry e = item.entry;
    LayerEntry.Content.Hashed hashed =
        item.spoolOffset < 0 && e.content() instanceof LayerEntry.Content.Hashed h ? h : null;
    MessageDigest sha256 = hashed != null ? sha256() : null;
    long size = e.size();
    long remaining = size;
    try (InputStream in = open(item)) {
      while (remaining > 0) {
        int n;
        try {
          n = in.read(buffer, 0, (int) Math.min(buffer.length, remaining));
        } catch (IOException ex) {
          throw new IOException(
              "cannot read the content of layer entry '" + e.path() + "': " + describe(ex), ex);
        }
        if (n < 0) {
          String what = String.format("expected %d bytes, found %d", size, size - remaining);
          throw hashed != null
              ? changed(hashed, e, what)
              : new IOException(
                  String.format(
                      "content of layer entry '%s' changed while being read: %s", e.path(), what));
        }
        if (sha256 != null) {
          sha256.update(buffer, 0, n);
        }
        tarOut.write(buffer, 0, n);
        remaining -= n;
      }
      if (in.read() >= 0) {
        String what = String.format("expected %d bytes, found more", size);
        throw hashed != null
            ? changed(hashed, e, what)
            : new IOException(
                String.format(
                    "content of layer entry '%s' changed while being read: %s", e.path(), what));
      }
    }
    if (sha256 != null) {
      Digest read = Digest.fromBytes(sha256.digest());
      if (!read.equals(hashed.digest())) {
        throw changed(hashed, e, "hashed as " + hashed.digest() + ", read as " + read);
      }
    }
  }

  private static InputChangedException changed(
      LayerEntry.Content.Hashed h, LayerEntry e, String what) {
    return new InputChangedException(
        h.file(),
        String.format(
            "input file '%s' (layer entry '%s') changed after it was hashed for the layer's cache key (%s); the layer "
                + "was not stored: bake again once the file stays put",
            h.file(), e.path(), what));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }

  private InputStream open(Item item) throws IOException {
    if (item.spoolOffset >= 0) {
      return Channels.newInputStream(
          new SpoolSlice(spoolChannel, item.spoolOffset, item.entry.size()));
    }
    try {
      return Objects.requireNonNull(item.entry.content().open(), "content stream");
    } catch (IOException ex) {
      throw new IOException(
          "cannot read the content of layer entry '" + item.entry.path() + "': " + describe(ex),
          ex);
    }
  }

  private static String describe(Exception e) {
    return e.getClass().getSimpleName() + ": " + e.getMessage();
  }

  private void closeSpool() {
    if (spoolChannel != null) {
      try {
        spoolChannel.close();
      } catch (IOException e) {
        log.debug("closing spool file {} failed", spool, e);
      }
      spoolChannel = null;
    }
    deleteQuietly(spool, null);
    spool = null;
  }

  private static void deleteQuietly(Path file, Throwable primary) {
    if (file == null) {
      return;
    }
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      if (primary != null) {
        primary.addSuppressed(e);
      } else {
        log.warn("could not delete temp file {}", file, e);
      }
    }
  }

  /**
   * An entry and, for content spooled by {@link #add(LayerEntry, InputStream)}, its offset in the
   * spool file.
   */
  private static final class Item {
    final LayerEntry entry;
    final long spoolOffset;

    Item(LayerEntry entry, long spoolOffset) {
      this.entry = entry;
      this.spoolOffset = spoolOffset;
    }
  }

  /**
   * A read-only window on the spool file, read with positional reads so slices need no shared
   * position.
   */
  private static final class SpoolSlice implements java.nio.channels.ReadableByteChannel {
    private final FileChannel channel;
    private long position;
    private final long end;

    SpoolSlice(FileChannel channel, long offset, long length) {
      this.channel = channel;
      this.position = offset;
      this.end = offset + length;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      if (position >= end) {
        return -1;
      }
      int limit = dst.limit();
      if (dst.remaining() > end - position) {
        dst.limit(dst.position() + (int) (end - position));
      }
      try {
        int n = channel.read(dst, position);
        if (n > 0) {
          position += n;
        }
        return n;
      } finally {
        dst.limit(limit);
      }
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void close() {
      // The spool channel is shared by all slices and closed by the writer.
    }
  }

  /**
   * Hashes and counts the uncompressed tar on its way to the compressor: the diffID, without a
   * second read.
   */
  private static final class HashingOutputStream extends OutputStream {
    private final OutputStream out;
    private final MessageDigest sha256;
    private long count;

    HashingOutputStream(OutputStream out) {
      this.out = out;
      try {
        this.sha256 = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("SHA-256 is required of every Java platform", e);
      }
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      sha256.update(b, off, len);
      out.write(b, off, len);
      count += len;
    }

    long count() {
      return count;
    }

    Digest digest() {
      return Digest.fromBytes(sha256.digest());
    }
  }
}
