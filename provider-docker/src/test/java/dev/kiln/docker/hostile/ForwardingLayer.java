package dev.kiln.docker.hostile;

import dev.kiln.Platform;
import dev.kiln.spi.LayerInProgress;
import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/** A layer being written that answers as {@code layer} does: a test overrides what it changes. */
class ForwardingLayer implements LayerInProgress {
  final LayerInProgress layer;

  ForwardingLayer(LayerInProgress layer) {
    this.layer = layer;
  }

  @Override
  public String name() {
    return layer.name();
  }

  @Override
  public InputStream openBlob() throws IOException {
    return layer.openBlob();
  }

  @Override
  public CompletionStage<Written> written() {
    return layer.written();
  }

  @Override
  public CompletionStage<Void> bakeEnded() {
    return layer.bakeEnded();
  }

  @Override
  public Optional<Tar> tar() {
    return layer.tar();
  }

  @Override
  public Optional<Platform> platform() {
    return layer.platform();
  }
}
