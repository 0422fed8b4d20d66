package dev.kiln.spi;

import dev.kiln.Digest;
import java.io.IOException;
import java.io.InputStream;

/** Blobs of the local store that an image names, read by digest. */
public interface Blobs {
  /**
   * Opens a blob of the image; the stream checks its digest and throws {@link CorruptBlobException}
   * at its end when the content does not match.
   */
  InputStream openBlob(Digest digest) throws IOException;

  /** The size of a blob of the image. */
  long blobSize(Digest digest) throws IOException;
}
