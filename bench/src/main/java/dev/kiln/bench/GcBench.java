package dev.kiln.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.GcPolicy;
import dev.kiln.LayerRecord;
import dev.kiln.RetentionReport;
import dev.kiln.internal.oci.Json;
import dev.kiln.internal.oci.OciImages;
import dev.kiln.internal.store.KeyEntry;
import dev.kiln.internal.store.LocalStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The local store's garbage collection ({@code docs/lifecycle.md}) on a store of {@code BLOBS}
 * blobs: images of one config and two layers each (a layer shared with the image before it, one of
 * its own), with their key entries, records and {@code index.json} entries, last used a minute
 * apart. Measured, median of {@code RUNS} runs, each on a fresh copy of the store: the size check a
 * bake does when the automatic collection has a {@code maxBytes} ({@link LocalStore#size}); a
 * collection that removes nothing; a dry run of {@code maxBytes} at half the store; the same
 * collection removing that half. Not a test: {@code scripts/bench-gc.sh [BLOBS [RUNS]]} runs it.
 *
 * <p>Usage: {@code GcBench WORKDIR [BLOBS [RUNS]]}.
 */
public final class GcBench {
  private GcBench() {}

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]);
    int blobs = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
    int runs = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    Path template = work.resolve("template");
    long t0 = System.nanoTime();
    long bytes = fill(template, blobs);
    System.out.printf(
        "store of %d blobs, %.1f MB, made in %d ms; %d runs%n",
        count(template.resolve("blobs/sha256")), bytes / 1e6, Measure.ms(t0), runs);
    List<Long> size = new ArrayList<>();
    List<Long> nothing = new ArrayList<>();
    List<Long> dry = new ArrayList<>();
    List<Long> half = new ArrayList<>();
    RetentionReport last = null;
    for (int run = 0; run < runs; run++) {
      Path store = work.resolve("run-" + run);
      copy(template, store);
      // written to disk before measuring: a store's blobs are old files, not pages still being
      // written back (removing those waits for the write-back)
      new ProcessBuilder("sync").inheritIO().start().waitFor();
      try (LocalStore s = LocalStore.open(store)) {
        long t = System.nanoTime();
        s.size();
        size.add(Measure.ms(t));
        t = System.nanoTime();
        s.gc(GcPolicy.of().grace(Duration.ZERO));
        nothing.add(Measure.ms(t));
        t = System.nanoTime();
        s.gc(GcPolicy.of().maxBytes(bytes / 2).dryRun());
        dry.add(Measure.ms(t));
        t = System.nanoTime();
        last = s.gc(GcPolicy.of().maxBytes(bytes / 2));
        half.add(Measure.ms(t));
      }
      Measure.deleteTree(store);
    }
    System.out.printf("size check (per bake with maxBytes): median %d ms%n", Measure.median(size));
    System.out.printf("collection removing nothing: median %d ms%n", Measure.median(nothing));
    System.out.printf("dry run of maxBytes = half: median %d ms%n", Measure.median(dry));
    System.out.printf(
        "collection of maxBytes = half: median %d ms (last run removed %d blobs, %d images, %d keys)%n",
        Measure.median(half),
        last.removed("blob").size(),
        last.removed("image").size(),
        last.removed("key").size());
  }

  /**
   * Fills a store with images of a config, a manifest and two layers (the first shared by two
   * images).
   */
  private static long fill(Path root, int blobs) throws Exception {
    Random r = new Random(1);
    long now = System.currentTimeMillis();
    ObjectNode index = Json.emptyIndex();
    ArrayNode manifests = index.withArray("manifests");
    long total = 0;
    try (LocalStore store = LocalStore.open(root)) {
      LayerRecord shared = null;
      int images =
          blobs * 2 / 7; // 3.5 blobs an image: config, manifest, own layer, half a shared one
      for (int i = 0; i < images; i++) {
        List<LayerRecord> layers = new ArrayList<>();
        if (shared == null || i % 2 == 0) {
          shared = layer(store, r, "lib", i);
          total += shared.size();
        }
        layers.add(shared);
        LayerRecord own = layer(store, r, "app", i);
        total += own.size();
        layers.add(own);
        byte[] config =
            ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\""
                    + shared.diffId()
                    + "\",\""
                    + own.diffId()
                    + "\"]},\"config\":{\"Cmd\":[\"/bin/app-"
                    + i
                    + "\"]}}")
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Digest cfg = store.putBlob(config);
        byte[] manifest = OciImages.manifest(cfg, config.length, layers);
        Digest image = store.putBlob(manifest);
        total += config.length + manifest.length;
        manifests.add(Json.manifestDescriptor(image, manifest.length, image.hex()));
        ObjectNode record = Json.object();
        record.put("schema", "dev.kiln.record.v1").put("image", image.toString());
        record.put("config", cfg.toString());
        ArrayNode ls = record.putArray("layers");
        for (LayerRecord l : layers) {
          ls.addObject()
              .put("name", l.name())
              .put("key", l.key().toString())
              .put("diffId", l.diffId().toString())
              .put("digest", l.digest().toString())
              .put("size", l.size());
        }
        Path rec = store.writeRecord(image, record);
        Files.setLastModifiedTime(rec, FileTime.fromMillis(now - (images - i) * 60_000L));
      }
      store.writeAtomically(root.resolve("index.json"), Json.bytes(index));
    }
    return total;
  }

  private static LayerRecord layer(LocalStore store, Random r, String name, int i)
      throws Exception {
    byte[] content = new byte[1024 + r.nextInt(8192)];
    r.nextBytes(content);
    content[0] = 0x1f; // a gzip stream's first bytes: not read as a document
    content[1] = (byte) 0x8b;
    Digest digest = Digest.of(content);
    Path tmp = store.newTempFile(".blob");
    Files.write(tmp, content);
    store.commitBlob(tmp, digest);
    Digest key = Digest.of((name + i).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    Digest diffId =
        Digest.of(("diff" + name + i).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    store.putKey(
        key,
        new KeyEntry(
            new LayerRecord(
                name,
                "files",
                null,
                diffId,
                digest,
                content.length,
                -1,
                LayerRecord.GZIP_LAYER,
                List.of(),
                Map.of())));
    return new LayerRecord(
        name,
        "files",
        key,
        diffId,
        digest,
        content.length,
        -1,
        LayerRecord.GZIP_LAYER,
        List.of(),
        Map.of());
  }

  private static long count(Path dir) throws Exception {
    try (var s = Files.list(dir)) {
      return s.count();
    }
  }

  private static void copy(Path from, Path to) throws Exception {
    try (var s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path t = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else if (!p.startsWith(from.resolve("tmp")) && !p.startsWith(from.resolve("locks"))) {
          Files.copy(p, t, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }
}
