package dev.kiln.internal.tar;

import dev.kiln.internal.deflate.DeflateEngine;
import dev.kiln.internal.tar.ParallelGzipOutputStream.Candidate;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One chunk of a {@link ParallelGzipOutputStream}'s input and its compressed form: raw deflate
 * primed with the 32 KiB of input before it as preset dictionary, ended with a sync flush (the next
 * chunk's bits follow on a byte boundary) or, for the last chunk, finished. Claimed by exactly one
 * thread (a pool thread or the writer) through a compare-and-set on {@link #state}, so a stale or
 * duplicate execution is a no-op.
 */
final class GzipChunk implements Runnable {
  static final int DICT_SIZE = 32 * 1024;
  static final int IDLE = 0;
  static final int QUEUED = 1;
  static final int RUNNING = 2;
  static final int DONE = 3;

  private final ChunkDeflater deflater;
  final AtomicInteger state = new AtomicInteger(IDLE);
  final byte[] in;
  final byte[] dict = new byte[DICT_SIZE];
  int inLen;
  int dictLen;
  boolean last;
  // Incompressible input grows by a few bytes per 16 KiB stored block; start with room for that.
  byte[] out;
  int outLen;
  Throwable failure;
  byte[] key;
  byte[] sha;
  boolean reused;

  GzipChunk(int chunkSize, ChunkDeflater deflater) {
    this.deflater = deflater;
    this.in = new byte[chunkSize];
    this.out = new byte[chunkSize + (chunkSize >> 6) + 64];
  }

  void reset() {
    inLen = 0;
    dictLen = 0;
    last = false;
    outLen = 0;
    failure = null;
    key = null;
    sha = null;
    reused = false;
  }

  /** Primes this chunk with the last 32 KiB of the input up to the end of {@code previous}. */
  void primeAfter(GzipChunk previous) {
    // the tail of the input so far: of the previous chunk, and of its own dictionary when the
    // chunk is shorter
    int fromIn = Math.min(DICT_SIZE, previous.inLen);
    int fromDict = Math.min(DICT_SIZE - fromIn, previous.dictLen);
    System.arraycopy(previous.dict, previous.dictLen - fromDict, dict, 0, fromDict);
    System.arraycopy(previous.in, previous.inLen - fromIn, dict, fromDict, fromIn);
    dictLen = fromDict + fromIn;
  }

  @Override
  public void run() {
    tryRun();
  }

  void tryRun() {
    if (state.compareAndSet(QUEUED, RUNNING)) {
      try {
        compress();
      } catch (Throwable t) {
        failure = t;
      } finally {
        synchronized (this) {
          state.set(DONE);
          notifyAll();
        }
      }
    }
  }

  synchronized void awaitDone() throws InterruptedException {
    while (state.get() != DONE) {
      wait();
    }
  }

  private void compress() {
    if (deflater.keyed()) {
      key = deflater.key(last, dict, dictLen, in, inLen);
      Candidate c = deflater.reusable(key);
      if (c != null) {
        if (out.length < c.bytes().length) {
          out = new byte[c.bytes().length];
        }
        System.arraycopy(c.bytes(), 0, out, 0, c.bytes().length);
        outLen = c.bytes().length;
        sha = c.sha256();
        reused = true;
        return;
      }
    }
    deflate();
    if (deflater.keyed()) {
      sha = ChunkDeflater.sha256(out, outLen);
    }
  }

  private void deflate() {
    DeflateEngine d = deflater.borrow();
    try {
      if (dictLen > 0) {
        d.setDictionary(dict, 0, dictLen);
      }
      d.setInput(in, 0, inLen);
      outLen = 0;
      if (last) {
        while (!d.finished()) {
          ensureRoom();
          outLen += d.deflate(out, outLen, out.length - outLen, DeflateEngine.FINISH);
        }
      } else {
        // A sync flush ends on a byte boundary (empty stored block), so the next chunk's bits can
        // follow it.
        int room;
        int n;
        do {
          ensureRoom();
          room = out.length - outLen;
          n = d.deflate(out, outLen, room, DeflateEngine.SYNC_FLUSH);
          outLen += n;
        } while (n == room);
      }
    } finally {
      deflater.release(d);
    }
  }

  private void ensureRoom() {
    if (out.length - outLen < 64) {
      out = Arrays.copyOf(out, out.length + (out.length >> 2) + 64);
    }
  }
}
