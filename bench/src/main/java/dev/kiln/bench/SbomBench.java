package dev.kiln.bench;

import static dev.kiln.bench.Measure.deleteTree;
import static dev.kiln.bench.Measure.median;
import static dev.kiln.bench.Measure.ms;

import dev.kiln.Attestation;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.LayerRecord;
import dev.kiln.sbom.KilnAttestor;
import dev.kiln.spi.AttestContext;
import dev.kiln.spi.Attestor;
import dev.kiln.spi.ForwardingAttestContext;
import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerNotes;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What SBOMs and provenance cost: a cold bake (a fresh store) with {@code
 * Kiln.builder().sbom(true).provenance(true)} against the same cold bake without, for two images:
 *
 * <ul>
 *   <li>{@code quickstart}: the quickstart example's image (scratch, a files layer with a small
 *       executable, a files layer with a config file);
 *   <li>{@code debian}: the Debian 12 minbase root file system (its dpkg database lists 118
 *       packages) and a files layer with a jar and a config file.
 * </ul>
 *
 * The two modes alternate, each run in its own fresh store, after one warm-up round of each that is
 * not counted (so the JVM has loaded the SBOM libraries in both). Bakes go to the local store only.
 *
 * <p>Usage: {@code SbomBench WORKDIR DEBIAN_ROOTFS_TAR [RUNS] [SCENARIOS]}. Prints one line per
 * bake and {@code RESULT} lines with medians. With {@code once-on} or {@code once-off} for RUNS it
 * bakes the first scenario once, with the documents on or off, and exits: the JVM's start, class
 * loading and first use are part of what a command-line bake pays.
 */
public final class SbomBench {
  private SbomBench() {}

  public static void main(String[] args) throws Exception {
    Path work = Files.createDirectories(Path.of(args[0]).toAbsolutePath());
    Path debian = Path.of(args[1]);
    // "once-on" / "once-off": one cold bake of the first scenario in this JVM, for timing whole
    // processes (scripts/bench-sbom.sh with PROCESS=1)
    String once = args.length > 2 && args[2].startsWith("once-") ? args[2] : null;
    int runs = once != null ? 0 : args.length > 2 ? Integer.parseInt(args[2]) : 3;
    List<String> scenarios = List.of((args.length > 3 ? args[3] : "quickstart,debian").split(","));
    Path src = Files.createDirectories(work.resolve("src"));
    byte[] exe = new byte[400];
    for (int i = 0; i < exe.length; i++) {
      exe[i] = (byte) (i * 31);
    }
    Files.write(src.resolve("hello"), exe);
    Files.writeString(src.resolve("greeting"), "Hello from an image baked by Kiln\n");
    Path jar = src.resolve("app.jar");
    try (var j = new java.util.jar.JarOutputStream(Files.newOutputStream(jar))) {
      j.putNextEntry(new java.util.jar.JarEntry("META-INF/maven/com.example/app/pom.properties"));
      j.write(
          "groupId=com.example\nartifactId=app\nversion=1.0\n".getBytes(StandardCharsets.UTF_8));
      j.closeEntry();
    }
    Map<String, ImageBuild> builds = new LinkedHashMap<>();
    builds.put(
        "quickstart",
        ImageBuild.from(Base.scratch())
            .layer(Layer.files("app").add(src.resolve("hello"), "/usr/local/bin/hello", 0755))
            .layer(Layer.files("config").add(src.resolve("greeting"), "/etc/hello/greeting")));
    builds.put(
        "debian",
        ImageBuild.from(Base.rootfs(debian))
            .layer(
                Layer.files("app")
                    .add(jar, "/opt/app/app.jar")
                    .add(src.resolve("greeting"), "/etc/app/greeting")));
    if (once != null) {
      Path store = work.resolve("store-" + ProcessHandle.current().pid());
      try {
        bake(store, builds.get(scenarios.get(0)), once.equals("once-on"));
      } finally {
        deleteTree(store);
      }
      return;
    }
    for (String name : scenarios) {
      ImageBuild b = builds.get(name);
      List<Long> off = new ArrayList<>();
      List<Long> on = new ArrayList<>();
      List<Long> writing = new ArrayList<>();
      List<Long> noted = new ArrayList<>();
      for (int run = 0; run <= runs; run++) {
        // which of the two goes first alternates, so that neither gets the other's leftovers
        // (a collection, a compilation) more often
        boolean offFirst = run % 2 == 0;
        long tOff = offFirst ? bake(work.resolve("store"), b, false) : 0;
        long before = attesting.get();
        long notesBefore = noting.get();
        long tOn = bake(work.resolve("store"), b, true);
        long tAttest = (attesting.get() - before) / 1_000_000;
        long tNotes = (noting.get() - notesBefore) / 1_000_000;
        if (!offFirst) {
          tOff = bake(work.resolve("store"), b, false);
        }
        System.out.printf(
            Locale.ROOT,
            "%s run %d: cold %d ms, with SBOM+provenance %d ms (writing them %d ms, notes while"
                + " the layers were written %d ms)%s%n",
            name,
            run,
            tOff,
            tOn,
            tAttest,
            tNotes,
            run == 0 ? " (warm-up, not counted)" : "");
        if (run > 0) {
          off.add(tOff);
          on.add(tOn);
          writing.add(tAttest);
          noted.add(tNotes);
        }
      }
      long mOff = median(off);
      long mOn = median(on);
      long mWriting = median(writing);
      long mNotes = median(noted);
      List<Long> diffs = new ArrayList<>();
      for (int i = 0; i < off.size(); i++) {
        diffs.add(on.get(i) - off.get(i));
      }
      long mDiff = median(diffs);
      System.out.printf(
          Locale.ROOT,
          "RESULT %s: cold bake %d ms, with SBOM+provenance %d ms: %+d ms (%+.1f%%; median of the"
              + " runs' own differences %+d ms, %+.1f%%); the attestor"
              + " itself %d ms and its notes while the layers were written %d ms (together"
              + " %.1f%% of the cold bake); medians of %d%n",
          name,
          mOff,
          mOn,
          mOn - mOff,
          100.0 * (mOn - mOff) / mOff,
          mDiff,
          100.0 * mDiff / mOff,
          mWriting,
          mNotes,
          100.0 * (mWriting + mNotes) / mOff,
          runs);
    }
  }

  /** Nanoseconds spent in the attestor, over every bake. */
  private static final AtomicLong attesting = new AtomicLong();

  /** Kiln's attestor, timed: what reading the image and writing the documents cost. */
  private static final Attestor TIMED =
      new Attestor() {
        private final KilnAttestor kiln = new KilnAttestor();

        @Override
        public List<Attestation> attest(AttestContext ctx) throws IOException {
          long t0 = System.nanoTime();
          try {
            return kiln.attest(unwrapping(ctx));
          } finally {
            attesting.addAndGet(System.nanoTime() - t0);
          }
        }

        @Override
        public LayerNotes notes(String layerKind) {
          LayerNotes notes = kiln.notes(layerKind);
          return notes == null ? null : new TimedNotes(notes);
        }
      };

  /** {@code ctx}, handing the attestor its own notes rather than their timed wrappers. */
  private static AttestContext unwrapping(AttestContext ctx) {
    return new ForwardingAttestContext(ctx) {
      @Override
      public Optional<LayerNotes> notes(LayerRecord layer) {
        return super.notes(layer).map(n -> n instanceof TimedNotes t ? t.notes() : n);
      }
    };
  }

  /** Nanoseconds spent taking notes on layers while they were written, over every bake. */
  private static final AtomicLong noting = new AtomicLong();

  /** Notes whose own time (each entry, each copy of content) is added to {@link #noting}. */
  private record TimedNotes(LayerNotes notes) implements LayerNotes {
    @Override
    public OutputStream entry(LayerEntry e) throws IOException {
      long t0 = System.nanoTime();
      OutputStream out = notes.entry(e);
      noting.addAndGet(System.nanoTime() - t0);
      return out == null
          ? null
          : new OutputStream() {
            @Override
            public void write(int b) throws IOException {
              write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
              long t = System.nanoTime();
              out.write(b, off, len);
              noting.addAndGet(System.nanoTime() - t);
            }

            @Override
            public void close() throws IOException {
              long t = System.nanoTime();
              out.close();
              noting.addAndGet(System.nanoTime() - t);
            }
          };
    }
  }

  /** One cold bake into a fresh store, in milliseconds. */
  private static long bake(Path store, ImageBuild b, boolean attest) throws Exception {
    deleteTree(store);
    long t0 = System.nanoTime();
    try (Kiln kiln =
        Kiln.builder().store(store).sbom(attest).provenance(attest).attestor(TIMED).build()) {
      BakeResult r = kiln.bake(b);
      if (r.attestations().size() != (attest ? 3 : 0)) {
        throw new IllegalStateException("expected the documents of " + attest + ", got " + r);
      }
    }
    return ms(t0);
  }
}
