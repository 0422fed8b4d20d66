package dev.kiln.sbom;

import dev.kiln.spi.LayerEntry;
import dev.kiln.spi.LayerNotes;
import dev.kiln.spi.LayerReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;

/**
 * What one layer holds that the SBOMs list, in the order of its tar: every entry's path and type (a
 * later layer's entry may replace or delete what a lower one brought), and for the files that
 * matter their findings: a package database's or os-release's bytes, a jar's SHA-256 and Maven
 * coordinates, a files layer's file with its SHA-256 and SHA-1. Taken while Kiln writes the layer
 * ({@link LayerNotes}), kept until the bake's SBOMs are written, or while the layer is read back
 * ({@link #read}), handed on as they come: both see the same entries and bytes, so both give the
 * same findings. {@link ImageScanner} lays the layers' findings over each other.
 *
 * <p>Takes at most {@code limit} jars and {@code limit} plain files; past that it counts them as
 * left out. Not thread-safe: one per layer, filled by one thread.
 */
final class LayerFindings implements LayerNotes {
  /** The largest package database or os-release read: real ones are a few MB. */
  static final int MAX_DATABASE = 64 * 1024 * 1024;

  /**
   * The most entries noted of a layer written by the bake: a larger layer's notes would hold a path
   * per entry until the bake's SBOMs are written, so they are dropped at this count and the layer
   * is read back instead (memory stays bounded; a layer read back keeps only what it tracks).
   */
  static final int MAX_NOTED = 200_000;

  /** What a file of the layer is, of what the SBOMs track; null for a file they do not. */
  sealed interface Finding {}

  record Database(byte[] content) implements Finding {}

  record TooLarge(long size) implements Finding {}

  record RpmDatabase() implements Finding {}

  record JarFile(JarInspector.Jar jar) implements Finding {}

  record PlainFile(String sha256, String sha1) implements Finding {}

  /** A jar or plain file past the limit: not read. */
  record LeftOut(boolean jar) implements Finding {}

  /** One entry of the layer: its path, type and, for a file, what it is (may be null). */
  record Entry(String path, LayerEntry.Type type, Finding finding) {}

  private final boolean filesLayer;
  private final int limit;
  private final int maxEntries;
  private final List<Entry> entries = new ArrayList<>();
  private final List<String> warnings = new ArrayList<>();
  private final Consumer<Entry> each;
  private final Consumer<String> warn;
  private final boolean noting;
  private final TempFiles tempFiles;
  private int count;
  private int jars;
  private int files;
  private boolean dropped;

  /** Makes the temp file a jar is copied to, to be read as a zip file. */
  interface TempFiles {
    Path create() throws IOException;

    TempFiles DEFAULT = () -> Files.createTempFile("kiln-sbom-", ".jar");
  }

  /**
   * Notes on a layer being written, dropped past {@code maxNoted} entries; {@code filesLayer}: a
   * files layer, whose every file the SBOMs list with its digests.
   */
  LayerFindings(boolean filesLayer, int limit, int maxNoted) {
    this(filesLayer, limit, maxNoted, null, null, TempFiles.DEFAULT);
  }

  /** As above, with jars copied to the temp files {@code tempFiles} makes. */
  LayerFindings(boolean filesLayer, int limit, int maxNoted, TempFiles tempFiles) {
    this(filesLayer, limit, maxNoted, null, null, tempFiles);
  }

  private LayerFindings(
      boolean filesLayer,
      int limit,
      int maxEntries,
      Consumer<Entry> each,
      Consumer<String> warn,
      TempFiles tempFiles) {
    this.filesLayer = filesLayer;
    this.limit = limit;
    this.maxEntries = maxEntries;
    this.noting = each == null;
    this.each = each != null ? each : entries::add;
    this.warn = warn != null ? warn : warnings::add;
    this.tempFiles = tempFiles;
  }

  /**
   * Reads the layer from {@code blob} (gzip or plain tar) and hands each entry's findings to {@code
   * each} and what could not be read to {@code warn} as they come, keeping nothing.
   */
  static void read(
      InputStream blob,
      String name,
      boolean filesLayer,
      int limit,
      Consumer<Entry> each,
      Consumer<String> warn)
      throws IOException {
    LayerFindings f =
        new LayerFindings(filesLayer, limit, Integer.MAX_VALUE, each, warn, TempFiles.DEFAULT);
    try (LayerReader r = LayerReader.of(blob, name)) {
      LayerEntry e;
      while ((e = r.next()) != null) {
        OutputStream content = f.entry(e);
        if (content != null) {
          try (content;
              InputStream in = e.content().open()) {
            in.transferTo(content);
          }
        }
      }
    }
  }

  boolean filesLayer() {
    return filesLayer;
  }

  int limit() {
    return limit;
  }

  /** The layer's entries, in the order of its tar. */
  List<Entry> entries() {
    return entries;
  }

  /** What could not be read in full (a broken jar), in the order met. */
  List<String> warnings() {
    return warnings;
  }

  /** Whether these are the layer's findings in full: false once a written layer had too many. */
  boolean complete() {
    return !dropped;
  }

  /**
   * Takes note of {@code e}. Taking notes never fails the layer being written: where it cannot go
   * on (no room for a jar's temp copy), the notes are dropped, and the layer is read back for the
   * SBOMs, which then say what went wrong. Reading a layer back, the error is thrown.
   */
  @Override
  public OutputStream entry(LayerEntry e) throws IOException {
    if (dropped) {
      return null;
    }
    if (count++ >= maxEntries) {
      drop();
      return null;
    }
    if (!noting) {
      return take(e);
    }
    try {
      OutputStream out = take(e);
      return out == null ? null : new Guarded(out);
    } catch (IOException | RuntimeException ex) {
      drop();
      return null;
    }
  }

  private void drop() {
    dropped = true;
    entries.clear();
    warnings.clear();
  }

  private OutputStream take(LayerEntry e) throws IOException {
    if (e.type() != LayerEntry.Type.FILE) {
      each.accept(new Entry(e.path(), e.type(), null));
      return null;
    }
    String p = e.path();
    if (ImageScanner.isDatabase(p) || ImageScanner.OS_RELEASE.contains(p)) {
      if (e.size() > MAX_DATABASE) {
        each.accept(new Entry(p, e.type(), new TooLarge(e.size())));
        return null;
      }
      ByteArrayOutputStream content = new ByteArrayOutputStream((int) e.size());
      return new Done(content) {
        @Override
        void done() {
          each.accept(new Entry(p, e.type(), new Database(content.toByteArray())));
        }
      };
    }
    if (ImageScanner.RPM_DATABASES.contains(p)) {
      each.accept(new Entry(p, e.type(), new RpmDatabase()));
      return null;
    }
    if (JarInspector.isJar(p)) {
      if (jars >= limit) {
        each.accept(new Entry(p, e.type(), new LeftOut(true)));
        return null;
      }
      jars++;
      return jar(p, e.type());
    }
    if (filesLayer) {
      if (files >= limit) {
        each.accept(new Entry(p, e.type(), new LeftOut(false)));
        return null;
      }
      files++;
      MessageDigest sha256 = JarInspector.sha256();
      MessageDigest sha1 = sha1();
      return new Done(
          new DigestOutputStream(
              new DigestOutputStream(OutputStream.nullOutputStream(), sha256), sha1)) {
        @Override
        void done() {
          HexFormat hex = HexFormat.of();
          each.accept(
              new Entry(
                  p,
                  e.type(),
                  new PlainFile(hex.formatHex(sha256.digest()), hex.formatHex(sha1.digest()))));
        }
      };
    }
    each.accept(new Entry(p, e.type(), null));
    return null;
  }

  /** Copies a jar to a temp file while it is written, and inspects it when it is complete. */
  private OutputStream jar(String p, LayerEntry.Type type) throws IOException {
    Path tmp = tempFiles.create();
    MessageDigest sha256 = JarInspector.sha256();
    OutputStream out;
    try {
      out = new DigestOutputStream(Files.newOutputStream(tmp), sha256);
    } catch (IOException | RuntimeException ex) {
      Files.deleteIfExists(tmp);
      throw ex;
    }
    return new Done(out) {
      @Override
      void done() throws IOException {
        try {
          String hex = HexFormat.of().formatHex(sha256.digest());
          JarInspector.Jar jar = JarInspector.coordinates(tmp, "/" + p, hex, warn);
          each.accept(new Entry(p, type, new JarFile(jar)));
        } finally {
          Files.deleteIfExists(tmp);
        }
      }

      @Override
      void failed() throws IOException {
        Files.deleteIfExists(tmp);
      }
    };
  }

  private static MessageDigest sha1() {
    try {
      return MessageDigest.getInstance("SHA-1");
    } catch (NoSuchAlgorithmException ex) {
      throw new IllegalStateException(ex);
    }
  }

  /**
   * The content stream of an entry being noted while it is written: an error of the notes drops
   * them rather than failing the layer, and what comes after is ignored.
   */
  private final class Guarded extends OutputStream {
    private final OutputStream out;
    private boolean broken;

    Guarded(OutputStream out) {
      this.out = out;
    }

    @Override
    public void write(int b) {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      if (broken) {
        return;
      }
      try {
        out.write(b, off, len);
      } catch (IOException | RuntimeException ex) {
        broken = true;
        drop();
      }
    }

    @Override
    public void close() {
      try {
        if (broken && out instanceof Done d) {
          d.abort();
        } else {
          out.close();
        }
      } catch (IOException | RuntimeException ex) {
        drop();
      }
      if (broken) {
        drop();
      }
    }
  }

  /**
   * A stream that takes its finding when it is closed, after the content (a layer whose writing
   * failed half-way has its findings dropped as a whole).
   */
  private abstract static class Done extends OutputStream {
    private final OutputStream out;
    private boolean closed;

    Done(OutputStream out) {
      this.out = out;
    }

    abstract void done() throws IOException;

    void failed() throws IOException {}

    /** Closes without taking a finding. */
    void abort() throws IOException {
      closed = true;
      try {
        out.close();
      } finally {
        failed();
      }
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
    }

    @Override
    public void close() throws IOException {
      if (closed) {
        return;
      }
      closed = true;
      try {
        out.close();
      } catch (IOException | RuntimeException ex) {
        failed();
        throw ex;
      }
      done();
    }
  }
}
