package dev.kiln.spi;

import dev.kiln.event.BakeEvent;
import java.nio.file.Path;

/** What a provisioner can use while it prepares and fingerprints a layer. Thread-safe. */
public interface KeyContext {

  /** Digests of input files, answered from the stat index where possible. */
  FileDigests files();

  /** Delivers an event to the bake's listeners. */
  void emit(BakeEvent event);

  /** A fresh temporary directory in the store's file system, deleted after the bake. */
  Path newTempDirectory() throws java.io.IOException;
}
