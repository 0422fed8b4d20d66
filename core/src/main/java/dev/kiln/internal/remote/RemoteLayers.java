package dev.kiln.internal.remote;

import com.google.common.base.Stopwatch;
import dev.kiln.Digest;
import dev.kiln.event.BakeEvent;
import dev.kiln.internal.oci.Json;
import dev.kiln.internal.store.KeyEntry;
import dev.kiln.internal.store.LocalStore;
import dev.kiln.spi.RemoteCache;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Layers in the remote cache: entries under {@value #LAYER_NAMESPACE} (cache key hex → {@link
 * KeyEntry} JSON) and their blobs. Pulls a layer into the local store only once it is checked;
 * pushes layers in the background. Anything wrong with what the remote serves is a miss; an outage
 * trips the guard. Thread-safe.
 */
public final class RemoteLayers {
  private static final Logger log = LoggerFactory.getLogger(RemoteLayers.class);

  /** The namespace of layer entries in the remote cache: cache key hex → {@link KeyEntry} JSON. */
  public static final String LAYER_NAMESPACE = "keys";

  private final GuardedRemoteCache remote;
  private final LocalStore store;
  private final boolean checkDiffIds;
  private final Consumer<BakeEvent> events;
  private final Executor compressPool;

  public RemoteLayers(
      GuardedRemoteCache remote,
      LocalStore store,
      boolean checkDiffIds,
      Consumer<BakeEvent> events,
      Executor compressPool) {
    this.remote = remote;
    this.store = store;
    this.checkDiffIds = checkDiffIds;
    this.events = events;
    this.compressPool = compressPool;
  }

  /** Whether layers are looked up in the remote cache now (its mode reads and it is not down). */
  public boolean reads() {
    return remote.reads();
  }

  /**
   * The layer of {@code key} from the remote cache: its entry, then its blob, verified against the
   * entry's size and digest (and diffID, with {@link RemoteCache.Verify#CONTENT}) before it is
   * committed to the local store and the key is recorded. Anything wrong is a miss (the layer is
   * provisioned locally and pushed again, which repairs the entry). Emits {@link
   * BakeEvent.RemoteCacheHit} on a hit.
   */
  public Optional<KeyEntry> pull(Digest key, String name, String kind) throws IOException {
    if (!remote.reads()) {
      return Optional.empty();
    }
    Stopwatch sw = Stopwatch.createStarted();
    Optional<byte[]> raw = remote.getEntry(LAYER_NAMESPACE, key.hex());
    if (raw.isEmpty()) {
      return Optional.empty();
    }
    KeyEntry e;
    try {
      e = KeyEntry.fromJson(Json.read(raw.get()));
    } catch (IOException | RuntimeException ex) {
      warn(
          "remote cache "
              + remote.describe()
              + " has an unreadable entry for key "
              + key.shortHex()
              + " ("
              + ex
              + "); provisioning '"
              + name
              + "' locally");
      return Optional.empty();
    }
    Path tmp = store.newTempFile(".remote");
    String subject = "remote cache: pull " + name;
    try {
      Optional<String> wrong =
          RemoteBlobs.fetchAndCheck(
              remote,
              e,
              tmp,
              checkDiffIds,
              done -> events.accept(new BakeEvent.BytesWritten(subject, done, e.size())),
              compressPool);
      if (wrong.isPresent()) {
        warn(
            "remote cache "
                + remote.describe()
                + " served a wrong blob for layer '"
                + name
                + "': "
                + wrong.get()
                + "; provisioning it locally");
        return Optional.empty();
      }
      store.commitBlob(tmp, e.digest());
    } catch (FileNotFoundException ex) {
      warn(
          "remote cache "
              + remote.describe()
              + " has an entry for layer '"
              + name
              + "' but not its blob "
              + e.digest().shortHex()
              + "; provisioning it locally");
      return Optional.empty();
    } catch (IOException ex) {
      log.debug(
          "remote fetch of {} failed: {}",
          e.digest(),
          ex.toString()); // the guard reported the outage
      return Optional.empty();
    } finally {
      Files.deleteIfExists(tmp);
    }
    store.putKey(key, e);
    events.accept(
        new BakeEvent.RemoteCacheHit(name, kind, key, e.digest(), e.size(), sw.elapsed()));
    return Optional.of(e);
  }

  /**
   * Writes a layer to the remote cache in the background on {@code executor} (blob, then entry);
   * with {@code ifMissing}, only if the remote lacks the entry (a layer baked before the remote was
   * configured). Empty when the remote takes no writes. A failed push fails nothing: the guard
   * reports it.
   */
  public Optional<CompletableFuture<Void>> push(
      Digest key, String name, KeyEntry entry, boolean ifMissing, Executor executor) {
    if (!remote.writes()) {
      return Optional.empty();
    }
    String subject = "remote cache: push " + name;
    return Optional.of(
        CompletableFuture.runAsync(
            () -> {
              try {
                if (ifMissing) {
                  Optional<Boolean> there = remote.hasEntry(LAYER_NAMESPACE, key.hex());
                  if (there.isEmpty() || there.get() || !store.verify(entry.digest())) {
                    return;
                  }
                }
                Stopwatch sw = Stopwatch.createStarted();
                long sent =
                    remote.pushBlob(
                        entry.digest(),
                        entry.size(),
                        entry.mediaType(),
                        store.blobPath(entry.digest()),
                        done ->
                            events.accept(new BakeEvent.BytesWritten(subject, done, entry.size())));
                remote.putEntry(
                    LAYER_NAMESPACE,
                    key.hex(),
                    Json.bytes(entry.toJson()),
                    Optional.of(
                        new RemoteCache.BlobRef(entry.digest(), entry.size(), entry.mediaType())));
                events.accept(
                    new BakeEvent.RemoteCachePushed(name, key, entry.digest(), sent, sw.elapsed()));
              } catch (IOException e) {
                log.debug(
                    "push of layer {} to the remote cache failed: {}",
                    name,
                    e.toString()); // the guard reported it
              }
            },
            executor));
  }

  private void warn(String message) {
    log.warn(message);
    events.accept(new BakeEvent.Warning(message));
  }
}
