package dev.kiln.vmware;

import static com.google.common.base.Preconditions.checkArgument;

import dev.kiln.Digest;
import dev.kiln.spi.Deflate;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Writes a raw disk image as a <em>streamOptimized</em> VMDK, the disk format that OVF/OVA packages
 * and vSphere's import (HttpNfcLease) and content library take.
 *
 * <p>The file is laid out as VMware's "Virtual Disk Format 5.0" describes stream-optimized sparse
 * extents: a sparse extent header (version 3, compressed grains, embedded LBA markers, grain
 * directory at the end) and an embedded descriptor, then every non-zero 64 KiB grain deflated
 * (zlib) behind a grain marker, each grain table behind its marker after the grains it maps, the
 * grain directory behind its marker, a footer (the header again, with the real grain directory
 * offset) and the end-of-stream marker. All-zero grains are not stored.
 *
 * <p>The output is reproducible: the descriptor's CID, {@code ddb.longContentID} and {@code
 * ddb.uuid} are derived from the disk's content, and grains are compressed independently, so the
 * file is the same bit for bit whatever the number of compression threads. Grains are deflated by
 * {@link Deflate#standard()}, which gives standard zlib's bytes whatever zlib the JDK links, so the
 * file is also the same on every machine. The raw disk is read once, in order, 1 MiB at a time;
 * memory use is bounded by the number of blocks in flight, never by the disk size.
 *
 * <pre>{@code
 * VmdkInfo info = VmdkWriter.defaults().threads(4)
 *     .write(Path.of("disk.raw"), Path.of("disk.vmdk"));
 * }</pre>
 *
 * <p>Immutable and thread-safe; one instance may write several disks at once.
 */
public final class VmdkWriter {
  static final int SECTOR = 512;
  static final int GRAIN_SECTORS = 128;
  static final int GRAIN = GRAIN_SECTORS * SECTOR;
  static final int GTES_PER_GT = 512;
  static final int GT_SECTORS = GTES_PER_GT * 4 / SECTOR;
  static final int DESCRIPTOR_OFFSET = 1;
  static final int DESCRIPTOR_SECTORS = 20;

  /** Grains start at sector 128 (64 KiB), as in VMware's own stream-optimized files. */
  static final int OVERHEAD_SECTORS = 128;

  static final int MAGIC = 0x564d444b; // "KDMV" little-endian
  static final int VERSION = 3;
  static final int FLAG_NEWLINE_TEST = 1;
  static final int FLAG_COMPRESSED = 1 << 16;
  static final int FLAG_MARKERS = 1 << 17;
  static final long GD_AT_END = -1L;
  static final int MARKER_EOS = 0;
  static final int MARKER_GT = 1;
  static final int MARKER_GD = 2;
  static final int MARKER_FOOTER = 3;

  private static final int BLOCK_GRAINS = 16; // one task compresses 1 MiB
  private static final byte[] ZERO_GRAIN = new byte[GRAIN];

  private final int threads;
  private final int level;
  private final Executor executor;
  private final Deflate deflate; // null: Deflate.standard() at each write

  private VmdkWriter(int threads, int level, Executor executor, Deflate deflate) {
    this.threads = threads;
    this.level = level;
    this.executor = executor;
    this.deflate = deflate;
  }

  /**
   * A writer with zlib level 6 (what {@code qemu-img} uses) and one compression thread per
   * available processor.
   */
  public static VmdkWriter defaults() {
    return new VmdkWriter(
        Runtime.getRuntime().availableProcessors(), Deflate.DEFAULT_LEVEL, null, null);
  }

  /**
   * A copy that compresses on {@code threads} threads (1: on the calling thread only). The output
   * does not depend on it.
   */
  public VmdkWriter threads(int threads) {
    checkArgument(
        threads >= 1 && threads <= 256, "threads must be between 1 and 256, found %s", threads);
    return new VmdkWriter(threads, level, executor, deflate);
  }

  /**
   * A copy that uses zlib level {@code level} (1 fastest .. 9 smallest; -1 the zlib default, 6).
   */
  public VmdkWriter compressionLevel(int level) {
    checkArgument(
        level == Deflate.DEFAULT_LEVEL || (level >= 1 && level <= 9),
        "compression level must be 1..9 or -1, found %s",
        level);
    return new VmdkWriter(threads, level, executor, deflate);
  }

  /**
   * A copy that runs compression tasks on the caller's executor instead of threads of its own;
   * {@link #threads(int)} then only bounds how many 1 MiB blocks are in flight.
   */
  public VmdkWriter executor(Executor executor) {
    return new VmdkWriter(threads, level, Objects.requireNonNull(executor, "executor"), deflate);
  }

  /**
   * A copy that deflates with {@code deflate} instead of {@link Deflate#standard()}: for tests that
   * compare the engines.
   */
  VmdkWriter deflate(Deflate deflate) {
    return new VmdkWriter(threads, level, executor, Objects.requireNonNull(deflate, "deflate"));
  }

  /** The number of compression threads (or blocks in flight on a caller's executor). */
  public int threads() {
    return threads;
  }

  /** The zlib compression level. */
  public int compressionLevel() {
    return level;
  }

  /** The caller's executor, if one was given. */
  public Optional<Executor> executor() {
    return Optional.ofNullable(executor);
  }

  /**
   * Writes {@code rawDisk} as a streamOptimized VMDK at {@code vmdk}. A raw disk whose size is not
   * a multiple of 512 bytes is padded with zeros to the next sector. The file is written beside
   * {@code vmdk} under a temporary name and moved into place when complete; a failure leaves no
   * partial file. The descriptor names the extent after {@code vmdk}'s file name.
   *
   * @throws IOException if the raw disk cannot be read, is empty, or the VMDK cannot be written
   * @throws IllegalArgumentException if {@code -Dkiln.deflate} is not {@code auto}, {@code jdk} or
   *     {@code java} (nothing is written)
   */
  public VmdkInfo write(Path rawDisk, Path vmdk) throws IOException {
    long rawSize = Files.size(rawDisk);
    if (rawSize == 0) {
      throw new IOException(
          "raw disk " + rawDisk + " is empty: expected a disk image of at least one sector");
    }
    Deflate engine = deflate != null ? deflate : Deflate.standard();
    Path target = vmdk.toAbsolutePath();
    Path dir = target.getParent();
    Files.createDirectories(dir);
    Path tmp =
        dir.resolve(
            "." + target.getFileName() + "." + Long.toHexString(System.nanoTime()) + ".tmp");
    try {
      VmdkInfo info;
      try (FileChannel in = FileChannel.open(rawDisk, StandardOpenOption.READ);
          FileChannel out =
              FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
        info = new Job(in, rawSize, out, target.getFileName().toString(), engine).run();
        out.force(false);
      }
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return info;
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  @Override
  public String toString() {
    return "VmdkWriter{threads="
        + threads
        + ", level="
        + level
        + (executor != null ? ", caller's executor" : "")
        + "}";
  }

  /**
   * The result of compressing one 1 MiB block: a grain record (marker + zlib data, sector-padded)
   * or null per grain.
   */
  private record Block(long firstGrain, byte[][] records, byte[][] hashes) {}

  /** One write: the state that is not shared between writes. */
  private final class Job {
    private final FileChannel in;
    private final long rawSize;
    private final FileChannel out;
    private final String extentName;
    private final long capacitySectors;
    private final long totalGrains;
    private final int gtCount;
    private final int[] gd;
    private final int[] gt = new int[GTES_PER_GT];
    private boolean gtUsed;
    private final ByteBuffer buffer =
        ByteBuffer.allocateDirect(4 << 20).order(ByteOrder.LITTLE_ENDIAN);
    private long position = (long) OVERHEAD_SECTORS * SECTOR; // file offset of buffer[0]
    private final MessageDigest content = sha256();
    private long grains;
    private final Deflate engine;
    private final ConcurrentLinkedQueue<Deflate.Compressor> compressors =
        new ConcurrentLinkedQueue<>();
    private final BlockingQueue<byte[]> blocks;

    Job(FileChannel in, long rawSize, FileChannel out, String extentName, Deflate engine)
        throws IOException {
      this.in = in;
      this.engine = engine;
      this.rawSize = rawSize;
      this.out = out;
      this.extentName = extentName;
      this.capacitySectors = (rawSize + SECTOR - 1) / SECTOR;
      this.totalGrains = (capacitySectors + GRAIN_SECTORS - 1) / GRAIN_SECTORS;
      long gts = (totalGrains + GTES_PER_GT - 1) / GTES_PER_GT;
      if (gts > Integer.MAX_VALUE / 4 || capacitySectors > (1L << 32) * GRAIN_SECTORS) {
        throw new IOException("raw disk of " + rawSize + " bytes is larger than a VMDK can hold");
      }
      this.gtCount = (int) gts;
      this.gd = new int[gtCount];
      this.blocks = new ArrayBlockingQueue<>(inFlight() + 1);
      content.update("kiln-vmdk-content-v1".getBytes(StandardCharsets.US_ASCII));
      content.update(le64(capacitySectors * SECTOR));
    }

    private int inFlight() {
      return threads == 1 ? 1 : 2 * threads;
    }

    VmdkInfo run() throws IOException {
      ExecutorService own = null;
      Executor exec = executor;
      if (exec == null && threads > 1) {
        own = Executors.newFixedThreadPool(threads, daemonThreads());
        exec = own;
      }
      ArrayDeque<Future<Block>> pending = new ArrayDeque<>();
      try {
        long blockCount = (totalGrains + BLOCK_GRAINS - 1) / BLOCK_GRAINS;
        for (long b = 0; b < blockCount; b++) {
          byte[] data = borrowBlock();
          long first = b * BLOCK_GRAINS;
          int n = (int) Math.min(BLOCK_GRAINS, totalGrains - first);
          read(data, first * GRAIN, n * GRAIN);
          Callable<Block> task = () -> compress(data, first, n);
          if (exec == null) {
            append(callInline(task));
          } else {
            CompletableFuture<Block> f = new CompletableFuture<>();
            exec.execute(
                () -> {
                  try {
                    f.complete(task.call());
                  } catch (Throwable t) {
                    f.completeExceptionally(t);
                  }
                });
            pending.add(f);
            if (pending.size() >= inFlight()) {
              append(await(pending.poll()));
            }
          }
        }
        while (!pending.isEmpty()) {
          append(await(pending.poll()));
        }
        return finish();
      } finally {
        // after a failure, let running tasks end before their compressors are freed
        if (own != null) {
          own.shutdownNow();
          awaitQuietly(own);
        } else {
          for (Future<Block> f : pending) {
            try {
              f.get();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              break;
            } catch (ExecutionException ignored) {
              // the first failure is the one reported
            }
          }
        }
        Deflate.Compressor z;
        while ((z = compressors.poll()) != null) {
          z.close();
        }
      }
    }

    private byte[] borrowBlock() {
      byte[] b = blocks.poll();
      return b != null ? b : new byte[BLOCK_GRAINS * GRAIN];
    }

    private void read(byte[] data, long offset, int length) throws IOException {
      int want = (int) Math.max(0, Math.min(length, rawSize - offset));
      ByteBuffer bb = ByteBuffer.wrap(data, 0, want);
      while (bb.hasRemaining()) {
        int r = in.read(bb, offset + bb.position());
        if (r < 0) {
          throw new IOException(
              "raw disk shrank while it was read: expected " + rawSize + " bytes");
        }
      }
      Arrays.fill(data, want, length, (byte) 0); // the last grain is padded to a full grain
    }

    /** Runs on a compression thread: zero test, hash and deflate each grain of a block. */
    private Block compress(byte[] data, long firstGrain, int n) {
      byte[][] records = new byte[n][];
      byte[][] hashes = new byte[n][];
      Deflate.Compressor deflater = compressors.poll();
      if (deflater == null) {
        deflater = engine.compressor(level);
      }
      MessageDigest sha = sha256();
      byte[] scratch = new byte[Deflate.maxCompressedLength(GRAIN)];
      try {
        for (int i = 0; i < n; i++) {
          int off = i * GRAIN;
          if (Arrays.equals(data, off, off + GRAIN, ZERO_GRAIN, 0, GRAIN)) {
            continue;
          }
          sha.update(data, off, GRAIN);
          hashes[i] = sha.digest();
          int len = deflater.compress(data, off, GRAIN, scratch, 0);
          while (len < 0) { // never at the bound, but a stream that does not fit is not cut
            scratch = new byte[scratch.length * 2];
            len = deflater.compress(data, off, GRAIN, scratch, 0);
          }
          int recordLen = roundUp(12 + len, SECTOR);
          byte[] record = new byte[recordLen];
          ByteBuffer r = ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN);
          r.putLong((firstGrain + i) * GRAIN_SECTORS).putInt(len).put(scratch, 0, len);
          records[i] = record;
        }
      } finally {
        compressors.add(deflater);
        blocks.offer(data);
      }
      return new Block(firstGrain, records, hashes);
    }

    /**
     * Runs on the calling thread, in grain order: places grains, grain tables and the content hash.
     */
    private void append(Block block) throws IOException {
      for (int i = 0; i < block.records().length; i++) {
        long grain = block.firstGrain() + i;
        byte[] record = block.records()[i];
        if (record != null) {
          gt[(int) (grain % GTES_PER_GT)] = toSector(currentOffset());
          gtUsed = true;
          put(record);
          grains++;
          content.update(le64(grain));
          content.update(block.hashes()[i]);
        }
        if (grain % GTES_PER_GT == GTES_PER_GT - 1 || grain == totalGrains - 1) {
          flushGrainTable((int) (grain / GTES_PER_GT));
        }
      }
    }

    private void flushGrainTable(int index) throws IOException {
      if (gtUsed) {
        putMarker(GT_SECTORS, MARKER_GT);
        gd[index] = toSector(currentOffset());
        ByteBuffer t = ByteBuffer.allocate(GT_SECTORS * SECTOR).order(ByteOrder.LITTLE_ENDIAN);
        for (int e : gt) {
          t.putInt(e);
        }
        put(t.array());
      }
      Arrays.fill(gt, 0);
      gtUsed = false;
    }

    private VmdkInfo finish() throws IOException {
      int gdSectors = roundUp(gtCount * 4, SECTOR) / SECTOR;
      putMarker(gdSectors, MARKER_GD);
      long gdOffset = currentOffset() / SECTOR;
      ByteBuffer g = ByteBuffer.allocate(gdSectors * SECTOR).order(ByteOrder.LITTLE_ENDIAN);
      for (int e : gd) {
        g.putInt(e);
      }
      put(g.array());
      putMarker(1, MARKER_FOOTER);
      put(header(gdOffset));
      putMarker(0, MARKER_EOS);
      flush();
      long fileSize = position;

      Digest contentId = Digest.fromBytes(content.digest());
      String cid = cid(contentId);
      byte[] head = new byte[(DESCRIPTOR_OFFSET + DESCRIPTOR_SECTORS) * SECTOR];
      System.arraycopy(header(GD_AT_END), 0, head, 0, SECTOR);
      byte[] descriptor = descriptor(contentId, cid).getBytes(StandardCharsets.UTF_8);
      if (descriptor.length > DESCRIPTOR_SECTORS * SECTOR) {
        throw new IOException(
            "VMDK descriptor too long for its reserved space; shorten the file name " + extentName);
      }
      System.arraycopy(descriptor, 0, head, DESCRIPTOR_OFFSET * SECTOR, descriptor.length);
      writeFully(ByteBuffer.wrap(head), 0);
      return new VmdkInfo(
          capacitySectors * SECTOR, fileSize, grains * GRAIN, grains, cid, contentId);
    }

    private byte[] header(long gdOffset) {
      ByteBuffer h = ByteBuffer.allocate(SECTOR).order(ByteOrder.LITTLE_ENDIAN);
      h.putInt(MAGIC)
          .putInt(VERSION)
          .putInt(FLAG_NEWLINE_TEST | FLAG_COMPRESSED | FLAG_MARKERS)
          .putLong(capacitySectors)
          .putLong(GRAIN_SECTORS)
          .putLong(DESCRIPTOR_OFFSET)
          .putLong(DESCRIPTOR_SECTORS)
          .putInt(GTES_PER_GT)
          .putLong(0) // no redundant grain directory in a stream
          .putLong(gdOffset)
          .putLong(OVERHEAD_SECTORS)
          .put((byte) 0) // clean shutdown
          .put((byte) '\n')
          .put((byte) ' ')
          .put((byte) '\r')
          .put((byte) '\n')
          .putShort((short) 1); // deflate
      return h.array();
    }

    private String descriptor(Digest contentId, String cid) {
      String hex = contentId.hex();
      long cylinders = Math.min(65535, (capacitySectors + 255 * 63 - 1) / (255 * 63));
      StringBuilder uuid = new StringBuilder();
      for (int i = 0; i < 16; i++) {
        uuid.append(i == 0 ? "" : i == 8 ? "-" : " ").append(hex, 32 + 2 * i, 34 + 2 * i);
      }
      return "# Disk DescriptorFile\n"
          + "version=1\n"
          + "encoding=\"UTF-8\"\n"
          + "CID="
          + cid
          + "\n"
          + "parentCID=ffffffff\n"
          + "createType=\"streamOptimized\"\n"
          + "\n"
          + "# Extent description\n"
          + "RW "
          + capacitySectors
          + " SPARSE \""
          + extentName.replace("\"", "_")
          + "\"\n"
          + "\n"
          + "# The Disk Data Base\n"
          + "#DDB\n"
          + "\n"
          + "ddb.adapterType = \"lsilogic\"\n"
          + "ddb.geometry.cylinders = \""
          + cylinders
          + "\"\n"
          + "ddb.geometry.heads = \"255\"\n"
          + "ddb.geometry.sectors = \"63\"\n"
          + "ddb.longContentID = \""
          + hex.substring(8, 32)
          + cid
          + "\"\n"
          + "ddb.toolsVersion = \"2147483647\"\n"
          + "ddb.uuid = \""
          + uuid
          + "\"\n"
          + "ddb.virtualHWVersion = \"4\"\n";
    }

    private long currentOffset() {
      return position + buffer.position();
    }

    private void putMarker(long sectors, int type) throws IOException {
      ByteBuffer m = ByteBuffer.allocate(SECTOR).order(ByteOrder.LITTLE_ENDIAN);
      m.putLong(sectors).putInt(0).putInt(type);
      put(m.array());
    }

    private void put(byte[] bytes) throws IOException {
      if (buffer.remaining() < bytes.length) {
        flush();
      }
      if (bytes.length > buffer.capacity()) {
        writeFully(ByteBuffer.wrap(bytes), position);
        position += bytes.length;
      } else {
        buffer.put(bytes);
      }
    }

    private void flush() throws IOException {
      buffer.flip();
      int n = buffer.remaining();
      writeFully(buffer, position);
      position += n;
      buffer.clear();
    }

    private void writeFully(ByteBuffer bb, long at) throws IOException {
      long p = at;
      while (bb.hasRemaining()) {
        p += out.write(bb, p);
      }
    }
  }

  /**
   * The descriptor's CID: 8 hex digits of the content id, never the values readers take for "no
   * parent".
   */
  static String cid(Digest contentId) {
    String cid = contentId.hex().substring(0, 8);
    return cid.equals("ffffffff") || cid.equals("fffffffe") ? "fffffffd" : cid;
  }

  private static Block callInline(Callable<Block> task) throws IOException {
    try {
      return task.call();
    } catch (IOException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException(e);
    }
  }

  private static Block await(Future<Block> f) throws IOException {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while compressing VMDK grains");
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof IOException io) {
        throw io;
      }
      if (c instanceof RuntimeException re) {
        throw re;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new IOException("VMDK grain compression failed", c);
    }
  }

  private static void awaitQuietly(ExecutorService pool) {
    try {
      pool.awaitTermination(1, TimeUnit.MINUTES);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static ThreadFactory daemonThreads() {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, "kiln-vmdk-deflate-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /** Grain tables and the directory hold unsigned 32-bit sector numbers. */
  private static int toSector(long offset) throws IOException {
    long sector = offset / SECTOR;
    if (sector >= 1L << 32) {
      throw new IOException(
          "VMDK file would exceed 2 TiB, the most its 32-bit grain tables can address");
    }
    return (int) sector;
  }

  private static int roundUp(int n, int unit) {
    return (n + unit - 1) / unit * unit;
  }

  private static byte[] le64(long v) {
    return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }
}
