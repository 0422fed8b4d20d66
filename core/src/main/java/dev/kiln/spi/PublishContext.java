package dev.kiln.spi;

import dev.kiln.event.BakeEvent;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Executor;

/** What an image store can use while it publishes. Thread-safe. */
public interface PublishContext {

  /** Delivers an event to the bake's listeners. */
  void emit(BakeEvent event);

  /** A fresh temporary directory in the store's file system, deleted after the bake. */
  Path newTempDirectory() throws IOException;

  /** The bake's executor. */
  Executor executor();

  /**
   * An optional ability of the engine that some stores need, such as the disk cache; empty when
   * this engine does not offer it.
   */
  <C> Optional<C> capability(Class<C> type);
}
