package dev.kiln.ec2;

import static com.google.common.base.Preconditions.checkArgument;

import dev.kiln.ImageStoreException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.ebs.EbsClient;
import software.amazon.awssdk.services.ebs.model.ChecksumAggregationMethod;
import software.amazon.awssdk.services.ebs.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.ebs.model.PutSnapshotBlockResponse;
import software.amazon.awssdk.services.ebs.model.ResourceNotFoundException;
import software.amazon.awssdk.services.ebs.model.StartSnapshotResponse;
import software.amazon.awssdk.services.ebs.model.Tag;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.Snapshot;
import software.amazon.awssdk.services.ec2.model.SnapshotState;

/**
 * Writes a local raw disk to a new EBS snapshot through the EBS direct APIs: StartSnapshot,
 * PutSnapshotBlock for every 512 KiB block that must be written, CompleteSnapshot with the LINEAR
 * aggregate checksum, then waits until EC2 reports the snapshot {@code completed}.
 *
 * <p>Without a parent, all-zero blocks are skipped (an unwritten block reads as zeros). With a
 * parent snapshot and the parent's local disk, only blocks whose content differs from the parent's
 * are sent, including blocks that became zero. The disk is streamed: at most {@code 2 x
 * concurrency} blocks are in memory, and up to {@code concurrency} PutSnapshotBlock calls run at
 * once. Calls are retried by the SDK as {@link Ec2Clients} configures it; what this class adds is
 * the recovery the SDK cannot do: a StartSnapshot whose answer was lost (found by its client
 * token), a CompleteSnapshot that sealed the snapshot before its answer was lost, and a new
 * snapshot the data plane does not know yet.
 *
 * <p>Never orphaned: any failure after StartSnapshot (including an interrupt) deletes the snapshot
 * before the exception is thrown; should the delete itself fail, the snapshot keeps the tags it was
 * started with (Kiln tags it {@code kiln:state=in-progress}) so that {@link AmiRegistrar#sweep}
 * finds it later.
 *
 * <p>Immutable and thread-safe; one instance can run several uploads at once.
 */
final class EbsSnapshotUploader {
  /** The EBS direct APIs block size: 512 KiB. */
  public static final int BLOCK_SIZE = 512 * 1024;

  /**
   * Parallel PutSnapshotBlock calls by default: 64, as AWS's own coldsnap uses; enough to fill a
   * multi-Gbit/s link at ~50 ms per call, and below the per-snapshot request rate limit.
   */
  public static final int DEFAULT_CONCURRENCY = 64;

  static final long GIB = 1L << 30;
  private static final Logger log = LoggerFactory.getLogger(EbsSnapshotUploader.class);
  private static final byte[] ZERO = new byte[BLOCK_SIZE];
  private static final ThreadLocal<MessageDigest> SHA256 =
      ThreadLocal.withInitial(LinearChecksum::sha256);
  private static final Duration REPORT_INTERVAL = Duration.ofMillis(200);
  // A just-started snapshot can briefly be unknown to PutSnapshotBlock (eventual consistency).
  private static final Duration YOUNG_SNAPSHOT = Duration.ofMinutes(2);
  private static final Duration YOUNG_SNAPSHOT_POLL_MAX = Duration.ofSeconds(5);
  private static final AtomicInteger POOLS = new AtomicInteger();

  private final EbsClient ebs;
  private final Ec2Client ec2;
  private final int concurrency;
  private final Duration completionTimeout;
  private final Duration pollInterval;
  private final Duration snapshotTimeout;

  private EbsSnapshotUploader(
      EbsClient ebs,
      Ec2Client ec2,
      int concurrency,
      Duration completionTimeout,
      Duration pollInterval,
      Duration snapshotTimeout) {
    this.ebs = ebs;
    this.ec2 = ec2;
    this.concurrency = concurrency;
    this.completionTimeout = completionTimeout;
    this.pollInterval = pollInterval;
    this.snapshotTimeout = snapshotTimeout;
  }

  /** An uploader over these clients (same region), with default settings. */
  public static EbsSnapshotUploader create(EbsClient ebs, Ec2Client ec2) {
    return new EbsSnapshotUploader(
        ebs,
        ec2,
        DEFAULT_CONCURRENCY,
        Duration.ofMinutes(30),
        Duration.ofSeconds(5),
        Duration.ofMinutes(60));
  }

  /** An uploader over the target region's clients, with default settings. */
  public static EbsSnapshotUploader create(Ec2Clients clients) {
    return create(clients.ebs(), clients.ec2());
  }

  /**
   * A copy that runs up to {@code n} PutSnapshotBlock calls at once (1-1024; the HTTP pool should
   * be as large).
   */
  public EbsSnapshotUploader concurrency(int n) {
    checkArgument(n >= 1 && n <= 1024, "concurrency must be 1-1024, found %s", n);
    return new EbsSnapshotUploader(ebs, ec2, n, completionTimeout, pollInterval, snapshotTimeout);
  }

  /**
   * A copy that waits at most {@code timeout} for {@code completed}, polling at most every {@code
   * poll} (sooner at first: after 100 ms, then twice as long each time).
   */
  public EbsSnapshotUploader completionWait(Duration timeout, Duration poll) {
    checkArgument(
        !timeout.isNegative() && !poll.isNegative() && !poll.isZero(),
        "bad wait %s / %s",
        timeout,
        poll);
    return new EbsSnapshotUploader(ebs, ec2, concurrency, timeout, poll, snapshotTimeout);
  }

  /**
   * A copy whose snapshots EBS cancels after {@code timeout} without writes or completion
   * (StartSnapshot Timeout, 10 minutes to 72 hours; 60 minutes by default), a backstop should this
   * process die mid-upload.
   */
  public EbsSnapshotUploader snapshotTimeout(Duration timeout) {
    checkArgument(
        timeout.toMinutes() >= 10 && timeout.toMinutes() <= 4320,
        "snapshot timeout must be 10-4320 minutes, found %s",
        timeout);
    return new EbsSnapshotUploader(ebs, ec2, concurrency, completionTimeout, pollInterval, timeout);
  }

  /** The number of parallel PutSnapshotBlock calls. */
  public int concurrency() {
    return concurrency;
  }

  /**
   * Uploads {@code request.disk()} to a new snapshot and waits until it is {@code completed}.
   *
   * @throws ImageStoreException when the upload cannot be done; any snapshot it started has been
   *     deleted
   */
  public UploadResult upload(SnapshotUpload request, UploadListener listener)
      throws ImageStoreException {
    String target = request.target();
    long started = System.nanoTime();
    Path disk = request.disk();
    long diskBytes = size(target, disk, "disk");
    long volumeGiB = Math.max(1, ceilDiv(diskBytes, GIB));
    Optional<String> parentId = request.parent().map(SnapshotUpload.ParentSnapshot::snapshotId);
    long parentDiskBytes = 0;
    if (request.parent().isPresent()) {
      SnapshotUpload.ParentSnapshot p = request.parent().get();
      parentDiskBytes = size(target, p.disk(), "parent disk");
      Snapshot ps = describe(target, p.snapshotId(), null);
      if (ps == null) {
        throw new ImageStoreException(
            target,
            "parent snapshot "
                + p.snapshotId()
                + " does not exist in this region: upload without a parent");
      }
      if (ps.state() != SnapshotState.COMPLETED) {
        throw new ImageStoreException(
            target,
            "parent snapshot "
                + p.snapshotId()
                + " is "
                + ps.stateAsString()
                + ", expected completed");
      }
      long parentGiB = ps.volumeSize() == null ? 0 : ps.volumeSize();
      if (parentDiskBytes > parentGiB * GIB) {
        throw new ImageStoreException(
            target,
            "parent disk "
                + p.disk()
                + " has "
                + parentDiskBytes
                + " bytes, more than snapshot "
                + p.snapshotId()
                + " holds ("
                + parentGiB
                + " GiB): it is not that snapshot's disk");
      }
      volumeGiB = Math.max(volumeGiB, parentGiB);
    }
    if (request.volumeSizeGiB().isPresent()) {
      long forced = request.volumeSizeGiB().getAsLong();
      if (forced < volumeGiB) {
        throw new ImageStoreException(
            target,
            "volume size "
                + forced
                + " GiB is smaller than needed ("
                + volumeGiB
                + " GiB for the disk"
                + (parentId.isPresent() ? " and its parent" : "")
                + ")");
      }
      volumeGiB = forced;
    }
    String token = request.clientToken().orElseGet(() -> "kiln-" + UUID.randomUUID());
    LongAdder retries = new LongAdder();
    final long volume = volumeGiB;
    List<Tag> tags = new ArrayList<>();
    for (Map.Entry<String, String> e : request.tags().entrySet()) {
      tags.add(Tag.builder().key(e.getKey()).value(e.getValue()).build());
    }
    boolean tokenTagged =
        tags.size() < KilnTags.MAX_TAGS && !request.tags().containsKey(KilnTags.UPLOAD);
    if (tokenTagged) {
      tags.add(Tag.builder().key(KilnTags.UPLOAD).value(token).build());
    }
    StartSnapshotResponse start;
    try {
      start =
          ebs.startSnapshot(
              b ->
                  b.volumeSize(volume)
                      .parentSnapshotId(parentId.orElse(null))
                      .clientToken(token)
                      .timeout((int) snapshotTimeout.toMinutes())
                      .tags(tags)
                      .description(request.description())
                      .overrideConfiguration(Ec2Clients.countRetries(retries)));
    } catch (RuntimeException e) {
      boolean interrupted = e instanceof AbortedException || Thread.interrupted();
      String left = "";
      if (retries.sum() > 0 && tokenTagged) {
        // an earlier attempt may have created the snapshot before its answer was lost
        left = deleteByToken(token, e);
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
        throw new ImageStoreException(
            target, "interrupted before StartSnapshot answered" + left, e);
      }
      throw new ImageStoreException(
          target, "StartSnapshot failed" + left + ": " + e.getMessage(), e);
    }
    String snapshotId = start.snapshotId();
    long startNanos = System.nanoTime();
    log.info(
        "started snapshot {} ({} GiB{}) for {}",
        snapshotId,
        volume,
        parentId.map(p -> ", parent " + p).orElse(""),
        disk);
    try {
      if (start.blockSize() != null && start.blockSize() != BLOCK_SIZE) {
        throw new ImageStoreException(
            target,
            "snapshot "
                + snapshotId
                + " has block size "
                + start.blockSize()
                + ", expected "
                + BLOCK_SIZE);
      }
      Stream s =
          new Stream(
              target,
              snapshotId,
              disk,
              diskBytes,
              request.parent().map(SnapshotUpload.ParentSnapshot::disk),
              parentDiskBytes,
              listener,
              retries,
              startNanos);
      s.run();
      Optional<String> aggregate = complete(target, snapshotId, s.sent.sum(), s.aggregate, retries);
      waitCompleted(target, snapshotId, retries);
      s.report(true);
      UploadResult r =
          new UploadResult(
              snapshotId,
              parentId,
              volume,
              diskBytes,
              s.blocks,
              s.sent.sum(),
              s.skippedZero.sum(),
              s.skippedUnchanged.sum(),
              s.bytesSent.sum(),
              retries.sum(),
              aggregate,
              Duration.ofNanos(System.nanoTime() - started));
      log.info(
          "snapshot {} completed: {} blocks sent, {} zero and {} unchanged skipped, {} retries, {}",
          snapshotId,
          r.blocksSent(),
          r.blocksSkippedZero(),
          r.blocksSkippedUnchanged(),
          r.retries(),
          r.elapsed());
      return r;
    } catch (Throwable e) {
      boolean interrupted = e instanceof InterruptedException || Thread.interrupted();
      deleteAfterFailure(snapshotId, e);
      if (interrupted) {
        Thread.currentThread().interrupt();
        throw new ImageStoreException(
            target,
            "interrupted while writing snapshot " + snapshotId + "; the snapshot was deleted",
            e);
      }
      if (e instanceof ImageStoreException) {
        throw (ImageStoreException) e;
      }
      if (e instanceof Error) {
        throw (Error) e;
      }
      throw new ImageStoreException(
          target,
          "writing snapshot "
              + snapshotId
              + " failed, the snapshot was deleted: "
              + describeError(e),
          e);
    }
  }

  /** Reads the disk (and the parent's), decides per block, and runs the PutSnapshotBlock calls. */
  private final class Stream {
    final String target;
    final String snapshotId;
    final Path disk;
    final long diskBytes;
    final Optional<Path> parentDisk;
    final long parentBytes;
    final UploadListener listener;
    final LongAdder retries;
    final long startNanos;

    /**
     * Blocks examined: the disk's, or the parent disk's if that is longer (its tail must read as
     * zeros).
     */
    final long blocks;

    final LinearChecksum aggregate = new LinearChecksum();
    final LongAdder sent = new LongAdder();
    final LongAdder bytesSent = new LongAdder();
    final LongAdder skippedZero = new LongAdder();
    final LongAdder skippedUnchanged = new LongAdder();
    volatile long scanned;
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    final Object reportLock = new Object();
    volatile long lastReport;

    Stream(
        String target,
        String snapshotId,
        Path disk,
        long diskBytes,
        Optional<Path> parentDisk,
        long parentBytes,
        UploadListener listener,
        LongAdder retries,
        long startNanos) {
      this.target = target;
      this.snapshotId = snapshotId;
      this.disk = disk;
      this.diskBytes = diskBytes;
      this.parentDisk = parentDisk;
      this.parentBytes = parentBytes;
      this.listener = listener;
      this.retries = retries;
      this.startNanos = startNanos;
      this.blocks = ceilDiv(Math.max(diskBytes, parentBytes), BLOCK_SIZE);
    }

    void run() throws Exception {
      int poolSize = concurrency * 2;
      BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(poolSize);
      int allocated = 0;
      ThreadFactory tf =
          r -> {
            Thread t = new Thread(r, "kiln-ebs-put-" + POOLS.incrementAndGet());
            t.setDaemon(true);
            return t;
          };
      ExecutorService workers =
          new ThreadPoolExecutor(
              concurrency, concurrency, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), tf);
      long ordinal = 0;
      byte[] parentBuf = parentDisk.isPresent() ? new byte[BLOCK_SIZE] : null;
      try (FileChannel in = FileChannel.open(disk, StandardOpenOption.READ);
          FileChannel parentIn =
              parentDisk.isPresent()
                  ? FileChannel.open(parentDisk.get(), StandardOpenOption.READ)
                  : null) {
        for (long index = 0; index < blocks; index++) {
          if (failure.get() != null) {
            break;
          }
          if (Thread.interrupted()) {
            throw new InterruptedException("upload to " + snapshotId + " interrupted");
          }
          byte[] buf = free.poll();
          if (buf == null && allocated < poolSize) {
            buf = new byte[BLOCK_SIZE];
            allocated++;
          }
          while (buf == null) {
            buf = free.poll(100, TimeUnit.MILLISECONDS);
            if (buf == null && failure.get() != null) {
              break;
            }
          }
          if (buf == null) {
            break;
          }
          readBlock(in, index, diskBytes, buf);
          boolean send;
          if (parentIn != null) {
            readBlock(parentIn, index, parentBytes, parentBuf);
            send = Arrays.mismatch(buf, parentBuf) >= 0;
            if (!send) {
              skippedUnchanged.increment();
            }
          } else {
            send = Arrays.mismatch(buf, ZERO) >= 0;
            if (!send) {
              skippedZero.increment();
            }
          }
          scanned = Math.min(diskBytes, (index + 1) * BLOCK_SIZE);
          if (!send) {
            free.add(buf);
            report(false);
            continue;
          }
          final byte[] block = buf;
          final long blockIndex = index;
          final long blockOrdinal = ordinal++;
          workers.execute(
              () -> {
                try {
                  put(blockIndex, blockOrdinal, block);
                } catch (Throwable t) {
                  failure.compareAndSet(null, t);
                } finally {
                  free.add(block);
                }
              });
        }
        // Wait for every block in flight: each returns its buffer.
        for (int i = 0; i < allocated; i++) {
          while (free.poll(100, TimeUnit.MILLISECONDS) == null) {
            if (Thread.interrupted()) {
              throw new InterruptedException("upload to " + snapshotId + " interrupted");
            }
          }
        }
      } catch (InterruptedException e) {
        failure.compareAndSet(null, e);
        workers.shutdownNow();
        throw e;
      } finally {
        workers.shutdownNow();
        if (!workers.awaitTermination(2, TimeUnit.MINUTES)) {
          log.warn("PutSnapshotBlock workers for {} did not stop within 2 minutes", snapshotId);
        }
      }
      Throwable f = failure.get();
      if (f instanceof Exception) {
        throw (Exception) f;
      }
      if (f instanceof Error) {
        throw (Error) f;
      }
    }

    void put(long index, long ordinal, byte[] block) throws Exception {
      if (failure.get() != null) {
        return;
      }
      MessageDigest md = SHA256.get();
      md.reset();
      byte[] digest = md.digest(block);
      aggregate.add(ordinal, digest);
      String checksum = Base64.getEncoder().encodeToString(digest);
      int progress = (int) Math.min(100, diskBytes == 0 ? 100 : scanned * 100 / diskBytes);
      PutSnapshotBlockResponse r;
      for (int attempt = 1; ; attempt++) {
        try {
          r =
              ebs.putSnapshotBlock(
                  b ->
                      b.snapshotId(snapshotId)
                          .blockIndex((int) index)
                          .dataLength(BLOCK_SIZE)
                          .checksum(checksum)
                          .checksumAlgorithm(ChecksumAlgorithm.SHA256)
                          .progress(progress)
                          .overrideConfiguration(Ec2Clients.countRetries(retries)),
                  RequestBody.fromContentProvider(
                      () -> new ByteArrayInputStream(block),
                      BLOCK_SIZE,
                      "application/octet-stream"));
          break;
        } catch (ResourceNotFoundException e) {
          // a snapshot started a moment ago can be unknown to the data plane for a while: wait for
          // it
          if (System.nanoTime() - startNanos >= YOUNG_SNAPSHOT.toNanos()) {
            throw e;
          }
          long delay =
              Math.min(YOUNG_SNAPSHOT_POLL_MAX.toMillis(), 100L << Math.min(attempt - 1, 10));
          log.debug(
              "PutSnapshotBlock {}/{}: snapshot not known yet, again in {} ms",
              snapshotId,
              index,
              delay);
          retries.increment();
          Thread.sleep(delay);
        }
      }
      if (r.checksum() != null && !r.checksum().equals(checksum)) {
        throw new ImageStoreException(
            target,
            "EBS stored block "
                + index
                + " of "
                + snapshotId
                + " with checksum "
                + r.checksum()
                + ", expected "
                + checksum
                + ": the data was altered in transit");
      }
      sent.increment();
      bytesSent.add(BLOCK_SIZE);
      report(false);
    }

    void report(boolean last) {
      long now = System.nanoTime();
      if (!last && now - lastReport < REPORT_INTERVAL.toNanos()) {
        return;
      }
      synchronized (reportLock) {
        if (!last && now - lastReport < REPORT_INTERVAL.toNanos()) {
          return;
        }
        lastReport = now;
        UploadProgress p =
            new UploadProgress(
                snapshotId,
                diskBytes,
                last ? diskBytes : scanned,
                bytesSent.sum(),
                sent.sum(),
                skippedZero.sum() + skippedUnchanged.sum(),
                retries.sum());
        try {
          listener.progress(p);
        } catch (RuntimeException e) {
          log.warn("upload listener failed on {}", p, e);
        }
      }
    }
  }

  private Optional<String> complete(
      String target, String snapshotId, long count, LinearChecksum aggregate, LongAdder retries)
      throws Exception {
    Optional<String> checksum =
        count == 0
            ? Optional.empty()
            : Optional.of(Base64.getEncoder().encodeToString(aggregate.finish(count)));
    LongAdder completeRetries = new LongAdder();
    try {
      ebs.completeSnapshot(
          b -> {
            b.snapshotId(snapshotId)
                .changedBlocksCount((int) count)
                .overrideConfiguration(Ec2Clients.countRetries(completeRetries));
            checksum.ifPresent(
                c ->
                    b.checksum(c)
                        .checksumAlgorithm(ChecksumAlgorithm.SHA256)
                        .checksumAggregationMethod(ChecksumAggregationMethod.LINEAR));
          });
    } catch (AwsServiceException e) {
      // An earlier attempt may have reached EBS and sealed the snapshot; the waiter tells.
      if (completeRetries.sum() == 0) {
        throw e;
      }
      log.info(
          "CompleteSnapshot {} failed after a retry ({}); checking whether an earlier attempt sealed it",
          snapshotId,
          e.getMessage());
    } finally {
      retries.add(completeRetries.sum());
    }
    return checksum;
  }

  private void waitCompleted(String target, String snapshotId, LongAdder retries) throws Exception {
    long deadline = System.nanoTime() + completionTimeout.toNanos();
    for (int looks = 1; ; looks++) {
      Snapshot s = describe(target, snapshotId, retries);
      if (s != null && s.state() == SnapshotState.COMPLETED) {
        return;
      }
      if (s != null && s.state() == SnapshotState.ERROR) {
        throw new ImageStoreException(
            target, "snapshot " + snapshotId + " went to state error: " + s.stateMessage());
      }
      if (System.nanoTime() > deadline) {
        throw new ImageStoreException(
            target,
            "snapshot "
                + snapshotId
                + " is still "
                + (s == null ? "not visible" : s.stateAsString())
                + " after "
                + completionTimeout
                + "; raise the wait with completionWait(...)");
      }
      Thread.sleep(Ec2Clients.pollDelayMillis(pollInterval, looks));
    }
  }

  /** The snapshot as EC2 describes it, or null when EC2 does not know it (yet). */
  private Snapshot describe(String target, String snapshotId, LongAdder retries)
      throws ImageStoreException {
    try {
      return ec2
          .describeSnapshots(
              b ->
                  b.snapshotIds(snapshotId).overrideConfiguration(Ec2Clients.countRetries(retries)))
          .snapshots()
          .stream()
          .findFirst()
          .orElse(null);
    } catch (AwsServiceException e) {
      if (Ec2Clients.errorCode(e).startsWith("InvalidSnapshot.NotFound")) {
        return null;
      }
      throw new ImageStoreException(
          target, "DescribeSnapshots " + snapshotId + " failed: " + e.getMessage(), e);
    } catch (AbortedException e) {
      Thread.currentThread().interrupt();
      throw new ImageStoreException(target, "interrupted while describing " + snapshotId, e);
    }
  }

  /**
   * Deletes the snapshots an upload with this token made; says what it did, for the error message.
   */
  private String deleteByToken(String token, Throwable cause) {
    try {
      List<String> ids = new ArrayList<>();
      ec2.describeSnapshots(
              b -> b.ownerIds("self").filters(AmiRegistrar.filter("tag:" + KilnTags.UPLOAD, token)))
          .snapshots()
          .forEach(s -> ids.add(s.snapshotId()));
      for (String id : ids) {
        Snapshots.delete(ec2, id);
        log.info("deleted snapshot {} started by an attempt whose answer was lost", id);
      }
      return ids.isEmpty()
          ? " (nothing was created)"
          : " (deleted " + ids + ", created by an earlier attempt)";
    } catch (Throwable e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      cause.addSuppressed(e);
      log.warn("could not look for snapshots of upload {}; the next sweep removes them", token, e);
      return " (a snapshot made by an earlier attempt may remain until the next sweep)";
    }
  }

  private void deleteAfterFailure(String snapshotId, Throwable cause) {
    try {
      Snapshots.delete(ec2, snapshotId);
      log.info("deleted snapshot {} after a failed upload", snapshotId);
    } catch (Throwable e) {
      log.warn(
          "could not delete snapshot {} after a failed upload; the next sweep removes it",
          snapshotId,
          e);
      cause.addSuppressed(e);
    }
  }

  static String describeError(Throwable e) {
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  private static long size(String target, Path p, String what) throws ImageStoreException {
    try {
      if (!Files.isRegularFile(p)) {
        throw new ImageStoreException(target, what + " " + p + " is not a regular file");
      }
      return Files.size(p);
    } catch (IOException e) {
      throw new ImageStoreException(
          target, "cannot read " + what + " " + p + ": " + e.getMessage(), e);
    }
  }

  /** Reads block {@code index} into {@code buf}, zero-filling past the end of the file. */
  private static void readBlock(FileChannel ch, long index, long size, byte[] buf)
      throws IOException {
    long pos = index * BLOCK_SIZE;
    int want = (int) Math.max(0, Math.min(BLOCK_SIZE, size - pos));
    ByteBuffer bb = ByteBuffer.wrap(buf, 0, want);
    while (bb.hasRemaining()) {
      int n = ch.read(bb, pos + bb.position());
      if (n < 0) {
        break;
      }
    }
    if (bb.position() < BLOCK_SIZE) {
      Arrays.fill(buf, bb.position(), BLOCK_SIZE, (byte) 0);
    }
  }

  static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
