package dev.kiln.spi;

import dev.kiln.Digest;
import dev.kiln.Platform;
import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * A layer this bake is writing, handed to the stores its image goes to before the layer is complete
 * ({@link ImageStore#layerWriting}), so that a store which sends layers elsewhere can start sending
 * the compressed blob while it is still being compressed. Thread-safe.
 *
 * <p>What a store reads here is a preview: the bytes the writer wrote to its file, not yet checked.
 * A store must treat them as the blob only once {@link #written()} has completed and the receiver
 * has checked them against its digest (a registry does so when the upload is completed with the
 * digest). If anything else happens (the write fails, the bytes do not match, the receiver refuses
 * a streamed upload) the store publishes the layer the usual way, from the committed blob.
 */
public interface LayerInProgress {

  /** The layer's name in its build. */
  String name();

  /**
   * The compressed blob from its first byte, as it is written: a read blocks until more is written,
   * returns -1 once the whole blob has been read, and throws {@link IOException} if the write
   * failed or was abandoned. Each call returns a new stream; close it when done. Reads after the
   * bake ended may fail. {@link InputStream#available()} is the number of bytes written beyond the
   * stream's position, and {@link InputStream#skip} skips written bytes without reading them (it
   * never waits).
   */
  InputStream openBlob() throws IOException;

  /**
   * Completes once the blob is written, with its digest and sizes; completes exceptionally if the
   * write failed.
   */
  CompletionStage<Written> written();

  /**
   * Completes when the bake that writes this layer ends, whether it succeeded or failed, after its
   * last {@link ImageStore#publish}: work a store started for this layer and that no publication
   * took up by then (the image was found in the target, or the bake failed) is to be abandoned.
   */
  CompletionStage<Void> bakeEnded();

  /**
   * The layer's uncompressed tar as it is written, when the bake keeps the tars of the layers it
   * writes (a store of the bake {@link ImageStore#readsUncompressedLayers reads layers
   * uncompressed}); empty otherwise. Its size is known before it is written.
   */
  default Optional<Tar> tar() {
    return Optional.empty();
  }

  /**
   * The platform of the image this layer is written for, when the bake is of several platforms: a
   * store that takes one image of the index (as the Docker daemon takes the image of its own
   * platform) need not take the other platforms' layers. Empty when the bake is of one platform.
   */
  default Optional<Platform> platform() {
    return Optional.empty();
  }

  /**
   * An uncompressed tar being written: a preview in the same sense as the blob (a receiver checks
   * it against the diffID, as the Docker daemon does when it loads a layer).
   */
  interface Tar {
    /** The tar's size: a write that would give another size fails. */
    long size();

    /**
     * The tar from its first byte, as it is written: reads block until more is written; -1 only
     * once all {@link #size()} bytes were read and the layer was written in full; {@link
     * IOException} if the write failed, was abandoned, or the bake ended. While a stream is open
     * and read fast (128 MiB/s or more on average), the layer's gzip waits for it, since the
     * receiver is on the path the bake waits for and the blob is not yet: read it to its end or
     * close it. A stream that is read slowly, or got nothing for a second, is not waited for.
     */
    InputStream open() throws IOException;
  }

  /** A written blob: its digest and size, and the diffID and size of its tar. */
  record Written(Digest digest, long size, Digest diffId, long uncompressedSize) {}
}
