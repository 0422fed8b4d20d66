package dev.kiln.spi;

import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.Platform;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * An image this bake is assembling, handed to its stores once the uncompressed tar of every layer
 * is written (every diffID known), while the compressed blobs of the layers it wrote may still be
 * compressing ({@link ImageStore#imageTarsWritten}). A store that takes layers uncompressed (as the
 * Docker daemon does) can finish its transfer with the image's config now, instead of after the
 * last blob is compressed.
 *
 * <p>A preview in the sense of {@link LayerInProgress}: the config is the one the image is to be
 * assembled with, but a store treats what it sent as the image only once {@link ImageStore#publish}
 * hands it an image with the same config digest, and it publishes nothing the user sees (no tag)
 * before that, unless {@link #mayName()} says so: then the bake returns to its caller as soon as
 * every target holds the image ({@code Kiln.bakeEarly}), and a store that holds the whole image
 * before it is assembled may name it at once and says so with {@link #named}. Thread-safe.
 */
public interface ImageTars extends Blobs {

  /** The image's platform. */
  Platform platform();

  /** The image's config (a copy), as the image is to be assembled. */
  byte[] config();

  /** The digest of {@link #config()}. */
  Digest configDigest();

  /** The diffIDs of the image's layers, bottom first: those of the config's {@code rootfs}. */
  List<Digest> diffIds();

  /**
   * The record of each layer, bottom first, when its blob is in the local store already (a layer
   * found in the store, pulled, or written and compressed by now); empty for a layer whose blob is
   * still being compressed. Their blobs are read through {@link #openBlob}.
   */
  List<Optional<LayerRecord>> stored();

  /**
   * Completes with {@code true} once the store may name the image before it is assembled: the
   * caller asked for the bake to return as soon as every target holds the image ({@code
   * Kiln.bakeEarly}), and every layer is final (its provisioner accepted its content). A store
   * names it only once it also holds the whole image with this config digest, and then calls {@link
   * #named}. Completes with {@code false} when the image may not be named early (a layer failed, or
   * the bake waits for the assembled image): by default, at once.
   */
  default CompletionStage<Boolean> mayName() {
    return CompletableFuture.completedFuture(false);
  }

  /**
   * Tells the bake that {@code target} now holds this image under its name ({@link #mayName}): once
   * every target of the image has said so, the bake returns to its caller. Does nothing by default.
   */
  default void named(String target) {}
}
