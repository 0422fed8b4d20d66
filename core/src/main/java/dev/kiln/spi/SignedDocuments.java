package dev.kiln.spi;

import dev.kiln.Digest;
import java.io.IOException;
import java.util.List;
import java.util.Objects;

/**
 * Keeps what an {@link AttestationSink} signs for a target that holds no files of its own (an AMI
 * carries tags, not documents) in the local store: each document a blob ({@code
 * blobs/sha256/<hex>}), and a record beside the image's publications ({@code records/<image>/})
 * that lists them with the target. Found through {@code PublishContext.capability(
 * SignedDocuments.class)}; thread-safe.
 */
public interface SignedDocuments {

  /** One signed document: a DSSE envelope, a signature. */
  record Document(String name, String mediaType, byte[] content) {
    public Document {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(mediaType, "mediaType");
      content = content.clone();
    }

    @Override
    public byte[] content() {
      return content.clone();
    }

    /** The SHA-256 of the content: the blob's name in the store. */
    public Digest digest() {
      return Digest.of(content);
    }
  }

  /**
   * Keeps {@code documents} as blobs and lists them ({@code name}, {@code mediaType}, {@code
   * digest}, {@code size}) in a record of {@code image} for {@code target}.
   */
  void keep(Digest image, String target, List<Document> documents) throws IOException;
}
