package dev.kiln.bench;

import dev.kiln.Digest;
import dev.kiln.ec2.Ec2Clients;
import dev.kiln.ec2.Ec2Publisher;
import dev.kiln.ec2.Ec2Target;
import dev.kiln.ec2.LoopbackAws;
import dev.kiln.ec2.PublishRequest;
import dev.kiln.ec2.PublishResult;
import dev.kiln.ec2.TestDisks;
import dev.kiln.ec2.UploadListener;
import dev.kiln.ec2.UploadResult;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Locale;
import java.util.Random;
import java.util.SplittableRandom;

/**
 * Upload throughput to the loopback server against the raw disk read speed, and bytes sent for an
 * app disk (5 MB changed over a 1 GiB base) incrementally against a full upload. Not a test: {@code
 * scripts/bench-upload.sh [DIR]} runs it (the loopback server and the disk helpers come from
 * provider-ec2's test-jar).
 *
 * <p>Needs ~3 GiB of heap (the server keeps every block in memory) and ~2.5 GiB of disk. The client
 * and the server share the machine's cores, so loopback throughput is a lower bound of what the
 * uploader does against EBS.
 */
public final class UploadBench {
  private static final int BLOCK = TestDisks.BLOCK;
  private static final long GIB = TestDisks.GIB;
  private static final long MIB = TestDisks.MIB;

  private UploadBench() {}

  public static void main(String[] args) throws Exception {
    Path dir = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("kiln-ec2-bench");
    Files.createDirectories(dir);
    StringBuilder report = new StringBuilder();
    System.out.printf(
        "cores %d, heap %d MiB, dir %s%n",
        Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20, dir);
    try (LoopbackAws aws = LoopbackAws.start()) {
      aws.setRecordBlockCalls(false);
      aws.setCompletionPolls(0);
      Ec2Target target = aws.target("eu-west-1", "bench");
      try (Ec2Clients clients = Ec2Clients.create(target, 80)) {

        // 1. throughput: a 1 GiB disk full of incompressible data
        Path full = dir.resolve("full.raw");
        Files.deleteIfExists(full);
        writeRandomDisk(full, GIB, 42);
        double read = bestOf(3, () -> readAll(full, false));
        double readHash = bestOf(2, () -> readAll(full, true));
        report.append(
            String.format(
                Locale.ROOT,
                "| raw read, 512 KiB blocks (page cache warm) | %.0f MiB/s |%n",
                read));
        report.append(
            String.format(
                Locale.ROOT, "| raw read + SHA-256 per block | %.0f MiB/s |%n", readHash));
        Ec2Publisher publisher = Ec2Publisher.create(clients).noSweep();
        for (int c : new int[] {8, 16, 64}) {
          UploadResult r =
              upload(
                  clients,
                  publisher.concurrency(c),
                  PublishRequest.of(full, digest("full" + c), "full"));
          double mibs = r.bytesSent() / (double) MIB / (r.elapsed().toNanos() / 1e9);
          report.append(
              String.format(
                  Locale.ROOT,
                  "| full upload of 1 GiB (2048 blocks), concurrency %d | %.0f MiB/s (%.1f s, %d retries) |%n",
                  c,
                  mibs,
                  r.elapsed().toNanos() / 1e9,
                  r.retries()));
          System.gc();
        }
        Files.delete(full);

        // 2. bytes: a 1 GiB base disk, and the same disk with a 5 MB app layer added
        Path base = dir.resolve("base.raw");
        Path app = dir.resolve("app.raw");
        Files.deleteIfExists(base);
        Files.deleteIfExists(app);
        makeBase(base);
        TestDisks.sparseCopy(base, app);
        Random r = new Random(7);
        TestDisks.writeRandom(
            app, 700 * MIB + 4096, 5 * 1000 * 1000, r); // the app's files, laid after the base's
        for (int i = 0;
            i < 6;
            i++) { // metadata the new files touch: bitmaps, inode table, directories
          TestDisks.writeRandom(app, (long) (r.nextInt(2048)) * BLOCK + 1024, 256, r);
        }
        UploadResult b =
            upload(clients, publisher, PublishRequest.of(base, digest("base"), "base"));
        UploadResult appFull =
            upload(clients, publisher, PublishRequest.of(app, digest("app"), "app"));
        UploadResult appInc =
            upload(
                clients,
                publisher,
                PublishRequest.of(app, digest("app again"), "app").base("base", base));
        report.append(
            String.format(
                Locale.ROOT,
                "| base disk, full upload | %d blocks, %.1f MiB, %.1f s |%n",
                b.blocksSent(),
                b.bytesSent() / (double) MIB,
                secs(b.elapsed())));
        report.append(
            String.format(
                Locale.ROOT,
                "| app disk (base + 5 MB), full upload | %d blocks, %.1f MiB, %.1f s |%n",
                appFull.blocksSent(),
                appFull.bytesSent() / (double) MIB,
                secs(appFull.elapsed())));
        report.append(
            String.format(
                Locale.ROOT,
                "| app disk, incremental over the base snapshot | %d blocks, %.1f MiB, %.1f s |%n",
                appInc.blocksSent(),
                appInc.bytesSent() / (double) MIB,
                secs(appInc.elapsed())));
        report.append(
            String.format(
                Locale.ROOT,
                "| incremental / full upload of the app disk | %.2f %% (of 1 GiB: %.2f %%) |%n",
                100.0 * appInc.bytesSent() / appFull.bytesSent(),
                100.0 * appInc.bytesSent() / GIB));
        Files.delete(base);
        Files.delete(app);
        System.out.println("TCP connections opened to the server: " + aws.connections());
      }
    }
    System.out.println();
    System.out.println("| measure | result |");
    System.out.println("| --- | --- |");
    System.out.print(report);
  }

  /**
   * Publishes {@code request} and returns its upload's figures; the AMI is deregistered and its
   * snapshot deleted afterwards (the server keeps every block in memory), except a base that a
   * later upload starts from.
   */
  private static UploadResult upload(
      Ec2Clients clients, Ec2Publisher publisher, PublishRequest request) throws Exception {
    PublishResult p = publisher.publish(request, UploadListener.none());
    UploadResult r = p.upload().orElseThrow();
    if (!request.cacheKey().equals("base")) {
      clients.ec2().deregisterImage(x -> x.imageId(p.ami().imageId()));
      clients.ec2().deleteSnapshot(x -> x.snapshotId(r.snapshotId()));
    }
    return r;
  }

  private static Digest digest(String name) {
    return Digest.of(name.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  /**
   * A base disk like a file system image: metadata spread out, 300 MiB of files, the rest never
   * written.
   */
  private static void makeBase(Path disk) throws Exception {
    TestDisks.sparse(disk, GIB);
    Random r = new Random(11);
    TestDisks.writeRandom(disk, 0, (int) MIB, r); // partition table, ESP start
    for (long off = 0; off < GIB; off += 128 * MIB) { // block group metadata every 128 MiB
      TestDisks.writeRandom(disk, off + 2 * MIB, 64 * 1024, r);
    }
    for (long off = 16 * MIB; off < 316 * MIB; off += 4 * MIB) {
      TestDisks.writeRandom(disk, off, (int) (4 * MIB), r); // 300 MiB of base files
    }
  }

  private static void writeRandomDisk(Path file, long size, long seed) throws Exception {
    SplittableRandom r = new SplittableRandom(seed);
    ByteBuffer buf = ByteBuffer.allocate(BLOCK);
    try (FileChannel ch =
        FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      for (long pos = 0; pos < size; pos += BLOCK) {
        buf.clear();
        while (buf.hasRemaining()) {
          buf.putLong(r.nextLong());
        }
        buf.flip();
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
      }
    }
  }

  interface Rate {
    double run() throws Exception;
  }

  private static double bestOf(int n, Rate m) throws Exception {
    double best = 0;
    for (int i = 0; i < n; i++) {
      best = Math.max(best, m.run());
    }
    return best;
  }

  /** MiB/s reading the file sequentially in 512 KiB blocks, optionally hashing each block. */
  private static double readAll(Path file, boolean hash) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    byte[] b = new byte[BLOCK];
    long t0 = System.nanoTime();
    long n = 0;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer bb = ByteBuffer.wrap(b);
      while (true) {
        bb.clear();
        int k = ch.read(bb);
        if (k < 0) {
          break;
        }
        n += k;
        if (hash) {
          md.update(b, 0, k);
          md.digest();
        }
      }
    }
    return n / (double) MIB / ((System.nanoTime() - t0) / 1e9);
  }

  private static double secs(Duration d) {
    return d.toNanos() / 1e9;
  }
}
