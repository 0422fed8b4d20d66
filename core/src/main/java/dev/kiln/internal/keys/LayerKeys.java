package dev.kiln.internal.keys;

import dev.kiln.Digest;
import dev.kiln.ImageConfig;
import dev.kiln.Platform;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.PreparedLayer;
import java.util.List;

/**
 * Every key Kiln derives, in one place: a layer's cache key from its parent's key, kind and
 * fingerprint (see docs/concepts.md), the key of an image without layers, the key of a disk, and
 * the lineage under which a layer's previous blob is remembered. Changing any encoding here changes
 * keys and so invalidates every cache. Stateless.
 */
public final class LayerKeys {
  private static final String KEY_VERSION = "kiln.key.v1";

  private LayerKeys() {}

  /** A layer's fingerprint and the named inputs it lists, as its provisioner prepared them. */
  public record Fingerprinted(Digest digest, List<Fingerprint.Input> inputs) {}

  /** Lets the prepared layer fingerprint itself. */
  public static Fingerprinted fingerprint(PreparedLayer prepared) {
    Fingerprint fp = new Fingerprint();
    prepared.fingerprint(fp);
    List<Fingerprint.Input> inputs = fp.inputs();
    return new Fingerprinted(fp.digest(), inputs);
  }

  /**
   * {@code sha256("kiln.key.v1", parent key or "-", kind, fingerprint)}, plus, for a layer that
   * runs in its parent, the environment and working directory of the image below ({@code runConfig}
   * empty: not added, so such keys are unchanged) and the platform it runs on ({@code null} for a
   * layer that does not run; {@code linux/amd64}, the only platform before platforms were part of
   * the model, adds nothing, so its keys are unchanged).
   */
  public static Digest layer(
      Digest parent, String kind, Digest fingerprint, ImageConfig runConfig, Platform runsOn) {
    return layer(parent, kind, fingerprint, runConfig, runsOn, DEFAULT_MTIME, DEFAULT_LEVEL);
  }

  /** The time stamped on layer entries unless {@code SOURCE_DATE_EPOCH} says otherwise. */
  public static final long DEFAULT_MTIME = 1;

  /** The gzip level of layer blobs unless set otherwise. */
  public static final int DEFAULT_LEVEL = 6;

  /**
   * As {@link #layer(Digest, String, Digest, ImageConfig, Platform)}, plus the settings that shape
   * the layer's bytes: the time stamped on its entries and the gzip level. Each is added only where
   * it is not the default, so the keys of bakes with the defaults are unchanged; another value
   * gives another key, so a store never hands a layer written with other settings to this bake.
   */
  public static Digest layer(
      Digest parent,
      String kind,
      Digest fingerprint,
      ImageConfig runConfig,
      Platform runsOn,
      long mtime,
      int gzipLevel) {
    Fingerprint key =
        new Fingerprint()
            .put("v", KEY_VERSION)
            .put("parent", parent == null ? "-" : parent.toString())
            .put("kind", kind)
            .put("layer", fingerprint);
    if (mtime != DEFAULT_MTIME) {
      key.put("mtime", Long.toString(mtime));
    }
    if (gzipLevel != DEFAULT_LEVEL) {
      key.put("gzip level", Integer.toString(gzipLevel));
    }
    if (!runConfig.equals(ImageConfig.empty())) {
      key.put(
          "run env",
          runConfig.env().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList());
      key.put("run workdir", runConfig.workdir().orElse(""));
    }
    if (runsOn != null && !runsOn.equals(Platform.LINUX_AMD64)) {
      key.put("platform", runsOn.toString());
    }
    return key.digest();
  }

  /** The key of an image without layers of its own, by what its base is. */
  public static Digest base(String baseDescription) {
    return new Fingerprint().put("v", KEY_VERSION).put("base", baseDescription).digest();
  }

  /** The key of the empty image a bottom layer that runs in its parent sees. */
  public static Digest scratch() {
    return new Fingerprint().put("v", "scratch").digest();
  }

  /** The key of a layer Kiln did not bake (an image imported from another layout): its blob. */
  public static Digest imported(Digest blob) {
    return new Fingerprint().put("v", "kiln.imported.v1").put("blob", blob.toString()).digest();
  }

  /** The key of a disk: the key of its top layer and its options. */
  public static Digest disk(Digest topLayer, String options) {
    return new Fingerprint()
        .put("v", "kiln.disk.v1")
        .put("layers", topLayer)
        .put("options", options)
        .digest();
  }

  /**
   * Where the latest blob of a layer (by kind and name) is remembered, for incremental rewrites.
   */
  public static String lineage(String kind, String name) {
    return new Fingerprint()
        .put("v", "kiln.lineage.v1")
        .put("kind", kind)
        .put("name", name)
        .digest()
        .hex();
  }
}
