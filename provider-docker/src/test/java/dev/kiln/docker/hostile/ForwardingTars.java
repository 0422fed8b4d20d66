package dev.kiln.docker.hostile;

import dev.kiln.Digest;
import dev.kiln.LayerRecord;
import dev.kiln.Platform;
import dev.kiln.spi.ImageTars;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/** An image whose tars are written that answers as {@code tars} does: a test overrides the rest. */
class ForwardingTars implements ImageTars {
  final ImageTars tars;

  ForwardingTars(ImageTars tars) {
    this.tars = tars;
  }

  @Override
  public Platform platform() {
    return tars.platform();
  }

  @Override
  public byte[] config() {
    return tars.config();
  }

  @Override
  public Digest configDigest() {
    return tars.configDigest();
  }

  @Override
  public List<Digest> diffIds() {
    return tars.diffIds();
  }

  @Override
  public List<Optional<LayerRecord>> stored() {
    return tars.stored();
  }

  @Override
  public InputStream openBlob(Digest digest) throws IOException {
    return tars.openBlob(digest);
  }

  @Override
  public long blobSize(Digest digest) throws IOException {
    return tars.blobSize(digest);
  }

  @Override
  public CompletionStage<Boolean> mayName() {
    return tars.mayName();
  }

  @Override
  public void named(String target) {
    tars.named(target);
  }
}
