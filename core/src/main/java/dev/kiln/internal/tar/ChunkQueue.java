package dev.kiln.internal.tar;

import java.io.InterruptedIOException;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * The chunks of a {@link ParallelGzipOutputStream} between the writer and the output, in input
 * order: each is submitted to the executor, and leaves only from the head, once compressed, so the
 * output order never depends on which thread finished first. At most {@code maxInFlight} chunks
 * wait for or undergo compression; emitted chunks are kept for reuse. Used by the writing thread
 * only (the chunks themselves are claimed by whichever thread runs them).
 */
final class ChunkQueue {
  private final Executor executor;
  private final int maxInFlight;
  private final int chunkSize;
  private final ChunkDeflater deflater;
  private final ArrayDeque<GzipChunk> inFlight = new ArrayDeque<>();
  private final ArrayDeque<GzipChunk> free = new ArrayDeque<>();

  ChunkQueue(Executor executor, int maxInFlight, int chunkSize, ChunkDeflater deflater) {
    this.executor = executor;
    this.maxInFlight = maxInFlight;
    this.chunkSize = chunkSize;
    this.deflater = deflater;
  }

  /** A new empty chunk, not queued. */
  GzipChunk newChunk() {
    return new GzipChunk(chunkSize, deflater);
  }

  /**
   * Whether the maximum of chunks is in flight: the head must be emitted before {@link #free()}.
   */
  boolean full() {
    return inFlight.size() >= maxInFlight;
  }

  boolean isEmpty() {
    return inFlight.isEmpty();
  }

  /** An emptied chunk to fill next (only when not {@link #full()}). */
  GzipChunk free() {
    GzipChunk c = free.poll();
    if (c == null) {
      c = newChunk();
    }
    c.reset();
    return c;
  }

  /** Queues {@code chunk} for compression behind the chunks already in flight. */
  void submit(GzipChunk chunk) {
    chunk.state.set(GzipChunk.QUEUED);
    inFlight.addLast(chunk);
    try {
      executor.execute(chunk);
    } catch (RejectedExecutionException e) {
      // A shut-down or bounded pool is no reason to fail: the chunk stays queued and the writing
      // thread compresses it.
    }
  }

  /** Whether the oldest chunk is compressed, so it can be emitted without waiting. */
  boolean headDone() {
    return !inFlight.isEmpty() && inFlight.peekFirst().state.get() == GzipChunk.DONE;
  }

  /**
   * Waits until the oldest chunk is compressed. Rather than idle, this thread compresses queued
   * chunks that no pool thread has picked up yet (the oldest first), which also rules out a
   * deadlock on a pool saturated by the stream's caller.
   */
  void awaitHead() throws InterruptedIOException {
    GzipChunk head = inFlight.peekFirst();
    for (GzipChunk c : inFlight) {
      if (head.state.get() == GzipChunk.DONE) {
        break;
      }
      c.tryRun();
    }
    try {
      head.awaitDone();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while compressing");
    }
  }

  /** Removes the oldest chunk, which must be compressed; hand it back with {@link #recycle}. */
  GzipChunk pollHead() {
    return inFlight.pollFirst();
  }

  /** Keeps an emitted chunk for reuse. */
  void recycle(GzipChunk chunk) {
    chunk.state.set(GzipChunk.IDLE);
    free.addLast(chunk);
  }

  /**
   * Waits for every chunk still in flight (so none uses a deflate engine any more), forgets them
   * and ends the engines. Keeps the thread's interrupt status.
   */
  void quiesce() {
    boolean interrupted = false;
    for (GzipChunk c : inFlight) {
      c.tryRun();
      while (true) {
        try {
          c.awaitDone();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    inFlight.clear();
    free.clear();
    deflater.endAll();
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
