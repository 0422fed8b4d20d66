package dev.kiln.internal.oci;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.ImageStoreException;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.IndexView;
import dev.kiln.spi.LocalOutput;
import dev.kiln.spi.OutputChecks;
import dev.kiln.spi.PublishContext;
import dev.kiln.spi.TargetTempFile;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * {@code oci-archive:FILE[:TAG]} (an OCI image layout in a tar; a multi-platform image as an OCI
 * image index) and {@code docker-archive:FILE[:NAME:TAG]} (what {@code docker load} reads). Entries
 * carry a fixed time, so the archive of an image is the same bytes on every machine. The archive is
 * written to a locked temp file {@code .FILE.kiln-tmp-UUID} beside FILE and renamed into place, so
 * a reader never sees a half-written file; the temp files of writers that are gone (kill -9) are
 * removed by the next bake of the target, those of live writers are left alone.
 *
 * <p>An archive holds the image when it has exactly the size of the archive this store writes and
 * exactly its members, in order, each with its name, type and size, the small ones (index,
 * manifests, config) byte for byte and every blob with its SHA-256, read in full. A truncated,
 * altered or extended archive is written again. Thread-safe.
 */
final class ArchiveStore implements ImageStore {
  enum Format {
    OCI,
    DOCKER
  }

  private static final long MTIME = 1;

  private final String target;
  private final Path file;
  private final Format format;
  private final String name;

  ArchiveStore(String target, Path file, Format format, String name) {
    this.target = target;
    this.file = file; // absolute, as TargetPaths resolves it
    this.format = format;
    this.name = name;
  }

  /**
   * One member of the archive: a directory, a small file given as bytes, or a blob of the image.
   */
  private record Member(
      String name, boolean dir, byte[] bytes, Digest blob, long size, ImageView source) {
    static Member directory(String name) {
      return new Member(name, true, null, null, 0, null);
    }

    static Member file(String name, byte[] bytes) {
      return new Member(name, false, bytes, null, bytes.length, null);
    }

    static Member blob(String name, Digest d, ImageView source) throws IOException {
      return new Member(name, false, null, d, source.blobSize(d), source);
    }
  }

  @Override
  public Optional<LocalOutput> localOutput() {
    return Optional.of(
        new LocalOutput(
            file, format == Format.OCI ? "oci-archive" : "docker-archive", name, false));
  }

  @Override
  public Optional<PublishedImage> find(ImageView image, PublishContext ctx) {
    return find(image.digest(), () -> members(image), ctx);
  }

  /** An OCI archive takes a multi-platform image; a docker archive holds one platform's image. */
  @Override
  public boolean takesIndex() {
    return format == Format.OCI;
  }

  @Override
  public Optional<PublishedImage> findIndex(IndexView index, PublishContext ctx) {
    return find(index.digest(), () -> members(index), ctx);
  }

  private interface Members {
    List<Member> get() throws IOException;
  }

  private Optional<PublishedImage> find(Digest digest, Members members, PublishContext ctx) {
    TargetTempFile.sweep(file.getParent(), tempPrefix());
    try {
      if (!Files.isRegularFile(file)) {
        return Optional.empty();
      }
      // an archive that passed this check and has not been written since (same stat) is not read
      // again
      String what = "kiln.archive.v1 " + format + " " + name + " " + digest;
      Optional<OutputChecks> checks = ctx.capability(OutputChecks.class);
      boolean held =
          checks.isPresent()
              ? checks.get().holds(what, file, () -> holds(members.get()))
              : holds(members.get());
      return held ? Optional.of(published(digest, true)) : Optional.empty();
    } catch (IOException | RuntimeException e) {
      return Optional.empty(); // unreadable or not a tar: write it again
    }
  }

  /**
   * True when the file is byte for byte the archive of these members: the archive is written again
   * into a comparison with the file, except that the file's bytes of each blob are hashed instead
   * of being compared with the store's copy, so the file is read once and the store not at all.
   */
  private boolean holds(List<Member> members) throws IOException {
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
      ArchiveComparison cmp = new ArchiveComparison(in);
      try {
        write(
            members,
            cmp,
            (m, tar) -> {
              cmp.expectBlob(m.blob(), m.size());
              byte[] zeros = new byte[(int) Math.min(m.size(), 1 << 16)];
              for (long left = m.size(); left > 0; left -= zeros.length) {
                tar.write(zeros, 0, (int) Math.min(left, zeros.length));
              }
            });
      } catch (ArchiveComparison.Differs e) {
        return false;
      }
      return cmp.atEnd();
    }
  }

  @Override
  public PublishedImage publish(ImageView image, PublishContext ctx) throws BakeException {
    return publish(image.digest(), () -> members(image), ctx);
  }

  @Override
  public PublishedImage publishIndex(IndexView index, PublishContext ctx) throws BakeException {
    return publish(index.digest(), () -> members(index), ctx);
  }

  private PublishedImage publish(Digest digest, Members all, PublishContext ctx)
      throws BakeException {
    try {
      Files.createDirectories(file.getParent());
      List<Member> members = all.get();
      try (TargetTempFile tmp = TargetTempFile.create(file.getParent(), tempPrefix())) {
        try (OutputStream os = new BufferedOutputStream(tmp.output(), 1 << 16)) {
          long total = members.stream().filter(m -> m.blob() != null).mapToLong(Member::size).sum();
          long[] done = {0};
          write(
              members,
              os,
              (m, tar) -> {
                try (InputStream in = m.source().openBlob(m.blob())) {
                  in.transferTo(tar); // the store's stream checks the digest at its end
                }
                done[0] += m.size();
                ctx.emit(new BakeEvent.BytesWritten(target, done[0], total));
              });
        }
        tmp.moveTo(file);
      }
      return published(digest, false);
    } catch (IOException e) {
      throw new ImageStoreException(target, "could not write " + file + ": " + e.getMessage(), e);
    }
  }

  private String tempPrefix() {
    return "." + file.getFileName();
  }

  /**
   * The members of the OCI archive of a multi-platform image: the layout's files, the index, each
   * platform's manifest and config, then every layer once, in order.
   */
  private List<Member> members(IndexView index) throws IOException {
    ObjectNode desc = Json.manifestDescriptor(index.digest(), index.index().length, name);
    desc.put("mediaType", Json.INDEX_TYPE);
    List<Member> out = ociStart(desc);
    out.add(Member.file("blobs/sha256/" + index.digest().hex(), index.index()));
    for (ImageView image : index.images()) {
      out.add(Member.file("blobs/sha256/" + image.digest().hex(), image.manifest()));
      out.add(Member.file("blobs/sha256/" + image.configDigest().hex(), image.config()));
    }
    Set<Digest> seen = new HashSet<>();
    for (ImageView image : index.images()) {
      for (LayerRecord l : image.layers()) {
        if (seen.add(l.digest())) {
          out.add(Member.blob("blobs/sha256/" + l.digest().hex(), l.digest(), image));
        }
      }
    }
    return out;
  }

  /** The members every OCI archive starts with: oci-layout, index.json naming {@code top}. */
  private static List<Member> ociStart(ObjectNode top) {
    List<Member> out = new ArrayList<>();
    out.add(
        Member.file(
            "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8)));
    ObjectNode idx = Json.emptyIndex();
    idx.withArray("manifests").add(top);
    out.add(Member.file("index.json", Json.bytes(idx)));
    out.add(Member.directory("blobs/"));
    out.add(Member.directory("blobs/sha256/"));
    return out;
  }

  /** The members of the archive of {@code image}, in the order they are written. */
  private List<Member> members(ImageView image) throws IOException {
    List<Member> out;
    Set<Digest> layers = new LinkedHashSet<>();
    image.layers().forEach(l -> layers.add(l.digest()));
    if (format == Format.OCI) {
      out = ociStart(Json.manifestDescriptor(image.digest(), image.manifest().length, name));
      out.add(Member.file("blobs/sha256/" + image.digest().hex(), image.manifest()));
      out.add(Member.file("blobs/sha256/" + image.configDigest().hex(), image.config()));
      for (Digest d : layers) {
        out.add(Member.blob("blobs/sha256/" + d.hex(), d, image));
      }
    } else {
      out = new ArrayList<>();
      ArrayNode manifest = Json.mapper().createArrayNode();
      ObjectNode m = manifest.addObject();
      m.put("Config", image.configDigest().hex() + ".json");
      ArrayNode tags = m.putArray("RepoTags");
      if (!name.isEmpty()) {
        tags.add(name);
      }
      ArrayNode ls = m.putArray("Layers");
      for (LayerRecord l : image.layers()) {
        // docker load decompresses gzip layer files itself: the blobs go in as they are, no
        // re-compression
        ls.add(l.digest().hex() + "/layer.tar");
      }
      out.add(Member.file("manifest.json", Json.bytes(manifest)));
      out.add(Member.file(image.configDigest().hex() + ".json", image.config()));
      for (Digest d : layers) {
        out.add(Member.directory(d.hex() + "/"));
        out.add(Member.blob(d.hex() + "/layer.tar", d, image));
      }
    }
    return out;
  }

  /** Writes the content of a blob member. */
  private interface BlobContent {
    void write(Member m, TarArchiveOutputStream tar) throws IOException;
  }

  /** Writes the archive of {@code members} into {@code os} and closes it. */
  private static void write(List<Member> members, OutputStream os, BlobContent blobs)
      throws IOException {
    TarArchiveOutputStream tar = new TarArchiveOutputStream(os);
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    for (Member m : members) {
      TarArchiveEntry e = new TarArchiveEntry(m.name());
      e.setModTime(MTIME * 1000);
      e.setMode(m.dir() ? 040755 : 0100644);
      if (!m.dir()) {
        e.setSize(m.size());
      }
      tar.putArchiveEntry(e);
      if (m.bytes() != null) {
        tar.write(m.bytes());
      } else if (m.blob() != null) {
        blobs.write(m, tar);
      }
      tar.closeArchiveEntry();
    }
    tar.finish();
    tar.close(); // the last block is padded and written on close
  }

  private PublishedImage published(Digest digest, boolean reused) {
    Map<String, String> d = new LinkedHashMap<>();
    d.put("file", file.toString());
    if (!name.isEmpty()) {
      d.put("name", name);
    }
    return new PublishedImage(target, digest, reused, d);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
