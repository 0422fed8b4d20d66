package dev.kiln;

import dev.kiln.event.BakeListener;
import dev.kiln.internal.registry.Registry;
import dev.kiln.spi.Attestor;
import dev.kiln.spi.ContentSigner;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.Provisioner;
import dev.kiln.spi.RemoteCache;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;

/**
 * A configured Kiln: a local store, the provisioners and image stores in use, executors and
 * listeners. Build one with {@link #builder()} to embed Kiln; {@link ImageBuild#bake} uses {@link
 * #defaults()}.
 *
 * <pre>{@code
 * try (Kiln kiln = Kiln.builder().store(Path.of("build/kiln")).listener(System.out::println).build()) {
 *   BakeResult r = kiln.bake(build, "oci-archive:build/app.tar");
 * }
 * }</pre>
 *
 * <p>Thread-safe: several threads may bake with one instance; several processes may share one
 * store. Once {@link #close() closed}, an instance refuses to bake ({@link IllegalStateException});
 * {@link #defaults()} then opens a new one.
 */
public final class Kiln implements AutoCloseable {
  /** System property that makes execution serial, for debugging. */
  public static final String SERIAL_PROPERTY = "kiln.serial";

  /**
   * System property that, set to {@code false}, turns file-system watching off (see {@link
   * Builder#watchFileSystem}).
   */
  public static final String WATCH_PROPERTY = "kiln.watch";

  private final KilnRuntime runtime;

  private Kiln(KilnSettings settings) throws IOException {
    this.runtime = new KilnRuntime(settings);
  }

  /**
   * A builder with the defaults: the store at {@link #defaultStorePath()}, discovered providers, no
   * listener.
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The shared instance for the default store ({@link #defaultStorePath()}), created on first use
   * and again after it was closed; with the remote cache of {@code $KILN_REMOTE_CACHE} (and {@code
   * $KILN_REMOTE_CACHE_MODE}: {@code read-write}, {@code read-only} or {@code write-only}) when
   * set, so a CI runner shares a cache by its environment alone. It is closed when the JVM exits.
   */
  public static Kiln defaults() {
    return DefaultKiln.get();
  }

  /**
   * Where the default store lives, the first of: the system property {@code kiln.store} ({@code
   * -Dkiln.store=DIR}), the environment variable {@code $KILN_STORE}, {@code $XDG_CACHE_HOME/kiln},
   * {@code ~/.cache/kiln}. Empty values count as unset.
   */
  public static Path defaultStorePath() {
    return KilnEnvironment.defaultStorePath(System::getProperty, System::getenv);
  }

  /** The local store's directory (also a valid OCI image layout). */
  public Path store() {
    return runtime.store();
  }

  /** Bakes one build into the local store only. */
  public BakeResult bake(ImageBuild build) throws BakeException {
    return bake(build, new Target[0]);
  }

  /** Bakes one build and publishes it to the targets (none: the local store only). */
  public BakeResult bake(ImageBuild build, String... targets) throws BakeException {
    runtime.checkOpen();
    return bake(build, Arrays.stream(targets).map(Target::parse).toArray(Target[]::new));
  }

  /** Bakes one build and publishes it to the typed targets. */
  public BakeResult bake(ImageBuild build, Target... targets) throws BakeException {
    return runtime.bake(build, targets);
  }

  /**
   * Bakes one build as {@link #bake(ImageBuild, String...)} does, but returns as soon as every
   * target holds the image under its name, while the local store catches up on a thread of this
   * Kiln: the loop of a developer who bakes into the local Docker daemon and runs what was baked.
   *
   * <p>Where every target is {@code docker-daemon:} and the build is of one platform, the daemon
   * loads the image while its layers are written (see {@code docs/docker.md}); as soon as it holds
   * the whole image and every layer is final (a files layer once its tar is written, checked file
   * by file against its key; any other layer once it is provisioned), the image is tagged and this
   * returns. What is left of compressing the layers' blobs, committing their keys, assembling the
   * image and writing its record goes on: {@link EarlyBake#result()} gives the whole {@link
   * BakeResult} once they are done, and {@link #close()} waits for them. A process killed before
   * they are done leaves no key without its blob: the next bake writes those layers again (and
   * finds the image in the daemon). For any other target, a build of several platforms, or an image
   * the daemon holds already, this returns when the bake has ended, with its result complete
   * ({@link EarlyBake#returnedEarly()} is false).
   *
   * @throws BakeException when the bake fails before its targets hold the image; a failure after
   *     that is {@link EarlyBake#result()}'s
   * @throws InvalidTargetException when a target is malformed or unknown (nothing runs)
   */
  public EarlyBake bakeEarly(ImageBuild build, String... targets) throws BakeException {
    runtime.checkOpen();
    return runtime.bakeEarly(
        build, Arrays.stream(targets).map(Target::parse).toArray(Target[]::new));
  }

  /**
   * Bakes several builds at once: layers they share (by cache key) are provisioned once,
   * independent layers in parallel. Results are in the order of the map.
   */
  public List<BakeResult> bakeAll(Map<ImageBuild, List<String>> builds) throws BakeException {
    return runtime.bakeAll(builds);
  }

  /** Bakes several builds with no target (into the local store), sharing what they share. */
  public List<BakeResult> bakeAll(ImageBuild... builds) throws BakeException {
    Map<ImageBuild, List<String>> m = new LinkedHashMap<>();
    for (ImageBuild b : builds) {
      m.put(b, List.of());
    }
    return bakeAll(m);
  }

  /**
   * Publishes an image already in the local store to the targets without baking it again: the
   * promotion step of a pipeline ({@code kiln copy}). Every target receives the stored manifest,
   * config and layers byte for byte, so the image keeps its digest; a target that already holds it
   * is left alone. Listeners see {@code ImagePublished}.
   *
   * @return what each target holds, by target as written
   * @throws BakeException when the image is not in the store (or is damaged there), or a target
   *     fails
   * @throws InvalidTargetException when a target is malformed or no provider handles its scheme
   *     (nothing is sent)
   */
  public Map<String, PublishedImage> publish(Digest image, String... targets) throws BakeException {
    return runtime.publish(image, targets);
  }

  /**
   * Copies the image tagged {@code tag} in the OCI image layout at {@code layout} into the local
   * store, checking every blob against its digest, so that {@link #publish} can send it anywhere.
   * The image keeps its manifest digest, which is returned (for an image index, that of its
   * linux/amd64 image).
   */
  public Digest importImage(Path layout, String tag) throws BakeException {
    return runtime.importImage(layout, tag);
  }

  /**
   * Names a stored image in the store's {@code index.json} ({@code
   * org.opencontainers.image.ref.name}), so that {@code oci:STORE:name} finds it; the name moves
   * from the image it named before. Every image is also tagged with its digest hex.
   *
   * @throws IllegalArgumentException when {@code name} is not a valid OCI reference name
   * @throws BakeException when the image is not in the store
   */
  public void tag(Digest image, String name) throws BakeException {
    runtime.tag(image, name);
  }

  /**
   * Checks the image {@code target} names (a registry {@code docker://…}, an {@code oci:} layout or
   * an {@code oci-archive:}) against {@code key}: that a signature of its manifest digest verifies
   * with the key, that each attestation's DSSE signature verifies and its statement is about the
   * image, that the provenance's subject is the image, and that each SBOM is one the provenance
   * lists as a byproduct. Nothing is written; a problem is a failed {@link VerifyResult.Check}, not
   * an exception.
   *
   * <pre>{@code
   * VerifyResult r = kiln.verify("docker://registry/app:1", SigningKey.publicKeyFromPem(pub));
   * if (!r.verified()) throw new IllegalStateException(r.toString());
   * }</pre>
   *
   * @throws BakeException when the target cannot be read (unreachable, no such image)
   */
  public VerifyResult verify(String target, java.security.PublicKey key) throws BakeException {
    return runtime.verify(target, key);
  }

  /**
   * Shrinks this Kiln's remote cache ({@link Builder#remoteCache(String)}): drops the entries the
   * policy lets go, by their last use (bakes record each entry they read), and, on S3, the blobs
   * only they named; a registry's own garbage collection ({@code registry garbage-collect})
   * reclaims its blobs. With {@code policy.dryRun(true)} it only lists what would go. Separate from
   * the local store's collection; see {@code docs/lifecycle.md}.
   *
   * <pre>{@code
   * RetentionReport r = kiln.retainRemoteCache(
   *     RemoteCache.Retention.keepAll().unusedFor(Duration.ofDays(30)).maxBytes(500L << 30));
   * }</pre>
   *
   * @throws IllegalStateException when this Kiln has no remote cache, or reads it only and the run
   *     is not dry
   * @throws UnsupportedOperationException when the backend cannot list or delete its entries
   * @throws IOException when the remote fails (what was deleted before stays deleted)
   */
  public RetentionReport retainRemoteCache(RemoteCache.Retention policy) throws IOException {
    return runtime.retainRemoteCache(policy);
  }

  /**
   * Collects garbage in the local store as {@code policy} says: removes the images, key entries and
   * cached disks no rule keeps, least recently used first, then every blob nothing left refers to
   * ({@code docs/lifecycle.md}). Safe while other threads and processes bake into the store: what a
   * running bake uses stays. Listeners see one {@code GarbageCollected} event.
   *
   * @return what was (or, on a {@link GcPolicy#dryRun() dry run}, would be) removed and kept
   * @throws BakeException when the store cannot be read or written
   */
  public RetentionReport gc(GcPolicy policy) throws BakeException {
    return runtime.gc(Objects.requireNonNull(policy, "policy"));
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return runtime.isClosed();
  }

  /**
   * Releases the executors Kiln created and this process's temp area in the store. A closed Kiln
   * refuses to bake ({@link IllegalStateException}); closing it again does nothing.
   */
  @Override
  public void close() throws IOException {
    runtime.close();
  }

  /** Configures a {@link Kiln}. Not thread-safe. */
  public static final class Builder {
    private final KilnSettings settings = new KilnSettings();

    private Builder() {}

    /**
     * Writes an SPDX 2.3 and a CycloneDX SBOM of every image baked: the OS packages of its final
     * root file system, the jars it holds, the files its files layers add, each with the layer that
     * brought it ({@code docs/supply-chain.md}). Off by default; off, a bake does no extra work.
     * The documents are in {@link BakeResult#attestations()} and in the store. Needs an {@link
     * Attestor} (the {@code kiln-sbom} module on the class path).
     */
    public Builder sbom(boolean on) {
      return on ? sbom(Attestation.Kind.SPDX, Attestation.Kind.CYCLONEDX) : sbom();
    }

    /** Writes SBOMs in these formats only ({@link Attestation.Kind#SPDX}, {@code CYCLONEDX}). */
    public Builder sbom(Attestation.Kind... formats) {
      for (Attestation.Kind k : formats) {
        if (k == Attestation.Kind.PROVENANCE) {
          throw new IllegalArgumentException(
              "provenance is not an SBOM format: use provenance(true)");
        }
      }
      settings.attest.removeIf(k -> k != Attestation.Kind.PROVENANCE);
      settings.attest.addAll(Arrays.asList(formats));
      return this;
    }

    /**
     * Writes an in-toto statement with a SLSA v1 provenance predicate for every image baked: what
     * built it (the layers' kinds, names and keys, the base and input digests, the package
     * versions) and what it produced (the image, and what each target holds). Off by default.
     */
    public Builder provenance(boolean on) {
      if (on) {
        settings.attest.add(Attestation.Kind.PROVENANCE);
      } else {
        settings.attest.remove(Attestation.Kind.PROVENANCE);
      }
      return this;
    }

    /**
     * Signs what Kiln publishes about each image with this key: a cosign-compatible signature of
     * the manifest and the SBOMs and provenance as signed attestations where the target holds them
     * (a registry, an OCI layout), the OVF certificate of an OVA ({@code docs/supply-chain.md}).
     * Off by default. Providers find the signer through {@code PublishContext.capability(
     * ContentSigner.class)}.
     *
     * <pre>{@code
     * Kiln.builder().sbom(true).provenance(true).signWith(SigningKey.fromPem(Path.of("key.pem")))
     * }</pre>
     */
    public Builder signWith(ContentSigner signer) {
      settings.signer = Objects.requireNonNull(signer, "signer");
      settings.capabilities.removeIf(c -> c instanceof ContentSigner);
      settings.capabilities.add(signer);
      return this;
    }

    /** Writes SBOMs and provenance with this attestor instead of the one on the class path. */
    public Builder attestor(Attestor attestor) {
      settings.attestor = Objects.requireNonNull(attestor, "attestor");
      return this;
    }

    /**
     * Shares layers (and disks, and EC2 snapshot ids) with other machines through a registry or an
     * object store the team already runs, reading and writing ({@link
     * RemoteCache.Mode#READ_WRITE}). Before provisioning a layer the bake looks its cache key up
     * there and downloads the layer instead; after provisioning one it pushes it.
     *
     * <pre>{@code
     * Kiln.builder().remoteCache("docker://registry.example:5000/team/kiln-cache")
     * Kiln.builder().remoteCache("s3://bucket/kiln?region=eu-west-1")
     * }</pre>
     *
     * A remote that is down or slow never fails a bake: see {@link #remoteCacheTimeouts}.
     *
     * @throws IllegalArgumentException when no provider on the class path handles the URI's scheme,
     *     or the URI is malformed for its provider
     */
    public Builder remoteCache(String uri) {
      return remoteCache(uri, RemoteCache.Mode.READ_WRITE);
    }

    /** Like {@link #remoteCache(String)}, only reading or only writing as {@code mode} says. */
    public Builder remoteCache(String uri, RemoteCache.Mode mode) {
      return remoteCache(
          Registry.remoteCache(Objects.requireNonNull(uri, "uri"), Kiln.class.getClassLoader()),
          mode);
    }

    /** Uses this remote cache instance (closed by {@link Kiln#close()}). */
    public Builder remoteCache(RemoteCache cache, RemoteCache.Mode mode) {
      settings.remoteCache = Objects.requireNonNull(cache, "cache");
      settings.remoteMode = Objects.requireNonNull(mode, "mode");
      return this;
    }

    /**
     * The remote cache of {@code $KILN_REMOTE_CACHE}, with {@code $KILN_REMOTE_CACHE_MODE} and
     * {@code $KILN_REMOTE_CACHE_VERIFY}, when it is set (what {@link Kiln#defaults()} and the
     * {@code kiln} command use); nothing when it is not.
     *
     * @throws IllegalArgumentException when a value is not one these variables take
     */
    public Builder remoteCacheFromEnvironment() {
      String remote = System.getenv("KILN_REMOTE_CACHE");
      if (remote != null && !remote.isBlank()) {
        remoteCache(
            remote.strip(),
            KilnEnvironment.mode(
                System.getenv().getOrDefault("KILN_REMOTE_CACHE_MODE", "read-write")));
        remoteCacheVerify(
            KilnEnvironment.verify(
                System.getenv().getOrDefault("KILN_REMOTE_CACHE_VERIFY", "digest")));
      }
      return this;
    }

    /**
     * What a bake checks of a layer it downloads from the remote cache: {@link
     * RemoteCache.Verify#DIGEST} (size and blob digest, the default) or {@link
     * RemoteCache.Verify#CONTENT} (also the diffID of the decompressed layer).
     */
    public Builder remoteCacheVerify(RemoteCache.Verify verify) {
      settings.remoteVerify = Objects.requireNonNull(verify, "verify");
      return this;
    }

    /**
     * How long the remote cache may take: {@code timeout} for one call (a lookup, an entry write)
     * and for a blob transfer that makes no progress (default 30 s); {@code transfer} for a whole
     * blob transfer (default 30 min). Past either, the bake stops asking the remote and provisions
     * locally.
     */
    public Builder remoteCacheTimeouts(Duration timeout, Duration transfer) {
      if (timeout.isNegative() || timeout.isZero() || transfer.isNegative() || transfer.isZero()) {
        throw new IllegalArgumentException("remote cache timeouts must be positive");
      }
      settings.remoteTimeout = timeout;
      settings.remoteTransferTimeout = transfer;
      return this;
    }

    /**
     * The garbage collection run after each bake when the store exceeds one of the policy's limits
     * ({@code docs/lifecycle.md}): with {@link GcPolicy#maxBytes} the store's size is checked after
     * every bake, the other limits at most once an hour. {@link GcPolicy#none()} (or {@code
     * -Dkiln.gc=false}) turns it off. Default: {@link GcPolicy#defaults()}, which removes what has
     * not been used for 30 days, checked at most once a day.
     */
    public Builder gc(GcPolicy policy) {
      settings.gc = Objects.requireNonNull(policy, "policy");
      settings.gcSet = true;
      return this;
    }

    /** The local store directory (default {@link Kiln#defaultStorePath()}). */
    public Builder store(Path store) {
      settings.store = Objects.requireNonNull(store);
      return this;
    }

    /**
     * The executor that runs layer steps; Kiln's own cached pool by default. Not shut down by Kiln.
     */
    public Builder executor(ExecutorService executor) {
      settings.executor = Objects.requireNonNull(executor);
      return this;
    }

    /** Adds a listener for bake events (it must be thread-safe). */
    public Builder listener(BakeListener listener) {
      settings.listeners.add(Objects.requireNonNull(listener));
      return this;
    }

    /** Uses this provisioner for its layer kind, in place of a discovered one. */
    public Builder provisioner(Provisioner provisioner) {
      settings.provisioners.add(Objects.requireNonNull(provisioner));
      return this;
    }

    /** Uses this image store provider for its schemes, in place of discovered ones. */
    public Builder imageStores(ImageStoreProvider provider) {
      settings.stores.add(Objects.requireNonNull(provider));
      return this;
    }

    /** Offers an object to providers that ask for it through {@code PublishContext.capability}. */
    public Builder capability(Object capability) {
      settings.capabilities.add(Objects.requireNonNull(capability));
      return this;
    }

    /**
     * Whether a files layer baked more than once by this instance has its source trees watched
     * (inotify, on Linux and local file systems), so that a rebake of an unchanged tree neither
     * walks nor stats it: a build daemon, an IDE or a service that keeps one Kiln open rebakes in
     * milliseconds. On by default; a one-off bake never watches. Off: every bake walks its trees
     * and asks the stat index (also {@code -Dkiln.watch=false}).
     *
     * <p>What watching cannot see, as with every inotify-based tool: a file written through a hard
     * link from outside the tree, or through a shared memory mapping alone. Turn it off where
     * inputs change that way.
     */
    public Builder watchFileSystem(boolean watch) {
      settings.watchFileSystem = watch;
      return this;
    }

    /** Runs every step on one thread (also {@code -Dkiln.serial=true}). */
    public Builder serial(boolean serial) {
      settings.serial = serial;
      return this;
    }

    /**
     * The gzip level of layer blobs, 1–9 (default 6, as docker and Jib use). Part of what makes
     * blob digests reproducible: machines that share a cache must use the same level.
     */
    public Builder compressionLevel(int level) {
      if (level < 1 || level > 9) {
        throw new IllegalArgumentException("gzip level must be 1-9, found " + level);
      }
      settings.compressionLevel = level;
      return this;
    }

    /**
     * The time stamped on every layer entry and in the config (default {@code $SOURCE_DATE_EPOCH},
     * else 1).
     */
    public Builder sourceDateEpoch(long epochSeconds) {
      if (epochSeconds < 0) {
        throw new IllegalArgumentException("negative SOURCE_DATE_EPOCH");
      }
      settings.sourceDateEpoch = epochSeconds;
      return this;
    }

    public Kiln build() throws IOException {
      return new Kiln(settings);
    }
  }
}
