package dev.kiln;

import dev.kiln.event.BakeListener;
import dev.kiln.spi.Attestor;
import dev.kiln.spi.ContentSigner;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.Provisioner;
import dev.kiln.spi.RemoteCache;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;

/**
 * What a {@link Kiln.Builder} collected, with the defaults of what it was not told; read once by
 * {@link KilnRuntime} when the Kiln opens.
 */
final class KilnSettings {
  /** {@code null}: {@link Kiln#defaultStorePath()}. */
  Path store;

  /** {@code null}: a pool of Kiln's own. */
  ExecutorService executor;

  final List<BakeListener> listeners = new ArrayList<>();
  final List<Provisioner> provisioners = new ArrayList<>();
  final List<ImageStoreProvider> stores = new ArrayList<>();
  final List<Object> capabilities = new ArrayList<>();
  boolean serial;
  boolean watchFileSystem = true;
  int compressionLevel = 6;
  long sourceDateEpoch = KilnEnvironment.sourceDateEpoch();

  /** {@code null}: no remote cache. */
  RemoteCache remoteCache;

  RemoteCache.Mode remoteMode = RemoteCache.Mode.READ_WRITE;
  RemoteCache.Verify remoteVerify = RemoteCache.Verify.DIGEST;
  Duration remoteTimeout = Duration.ofSeconds(30);
  Duration remoteTransferTimeout = Duration.ofMinutes(30);

  /** The documents asked for of every image; none by default. */
  final Set<Attestation.Kind> attest = EnumSet.noneOf(Attestation.Kind.class);

  /** What is collected after a bake; {@link GcPolicy#none()} for nothing. */
  GcPolicy gc = GcPolicy.defaults();

  /** Whether {@link #gc} was set by the builder (the default runs at most once a day). */
  boolean gcSet;

  /** {@code null}: nothing is signed. */
  ContentSigner signer;

  /** {@code null}: the first {@link Attestor} on the class path, when documents are asked for. */
  Attestor attestor;
}
