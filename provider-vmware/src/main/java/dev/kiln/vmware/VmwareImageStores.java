package dev.kiln.vmware;

import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.ImageStoreException;
import dev.kiln.Platform;
import dev.kiln.PublishedImage;
import dev.kiln.Target;
import dev.kiln.disk.DiskCache;
import dev.kiln.disk.DiskOptions;
import dev.kiln.disk.RawDiskStores;
import dev.kiln.event.BakeEvent;
import dev.kiln.spi.Attachments;
import dev.kiln.spi.AttestationSink;
import dev.kiln.spi.ContentSigner;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.LocalOutput;
import dev.kiln.spi.PublishContext;
import dev.kiln.vmware.auth.Credentials;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The VMware targets: {@code vmdk:FILE} (streamOptimized VMDK), {@code ova:FILE} and {@code
 * ovf:DIR} (OVF package with a SHA-256 manifest), and {@code vsphere://…} (an inventory template or
 * a content library item). Each takes the image's raw disk from the engine's {@link DiskCache}, so
 * the disk is built once for every target.
 */
public final class VmwareImageStores implements ImageStoreProvider {

  @Override
  public Set<String> schemes() {
    return Set.of("vmdk", "ova", "ovf", VsphereTarget.SCHEME);
  }

  @Override
  public ImageStore create(Target target) {
    if (target.scheme().equals(VsphereTarget.SCHEME)) {
      return new VsphereStore(VsphereTarget.parse(target.toString()));
    }
    VmwareFileTarget t = VmwareFileTarget.parse(target);
    return t.scheme().equals("vmdk") ? new FileStore(t) : new PackageStore(t);
  }

  static String annotation(ImageView image) {
    StringBuilder sb =
        new StringBuilder("Baked by Kiln from ")
            .append(image.layers().size())
            .append(" layers, key ")
            .append(image.key())
            .append('\n');
    image
        .layers()
        .forEach(
            l ->
                sb.append("  ")
                    .append(l.kind())
                    .append(' ')
                    .append(l.name())
                    .append(' ')
                    .append(l.diffId().shortHex())
                    .append('\n'));
    return sb.toString();
  }

  /**
   * VMware targets take linux/amd64 images only: ESXi runs x86-64 guests (ESXi on Arm exists only
   * as a VMware Fling, a technology preview without templates for Arm guests), so a disk of another
   * platform would not boot there. Checked before a disk is built or a server contacted.
   */
  static void checkPlatform(String target, ImageView image) throws ImageStoreException {
    Platform p = image.platform();
    if (!p.accepts(Platform.LINUX_AMD64) && !Platform.LINUX_AMD64.accepts(p)) {
      throw new ImageStoreException(
          target,
          "the image is for "
              + p
              + ", but VMware targets take linux/amd64 images only (ESXi runs x86-64 guests; ESXi"
              + " on Arm is a Fling, a technology preview): bake the image for linux/amd64 for this"
              + " target");
    }
  }

  static OvfPackage ovf(String name, ImageView image) {
    return OvfPackage.named(name).imageDigest(image.digest()).annotation(annotation(image));
  }

  /**
   * {@code vmdk:}, {@code ova:}, {@code ovf:}: files, rewritten atomically on every publish (they
   * are reproducible).
   */
  private static class FileStore implements ImageStore {
    private final String kind;
    private final String target;
    private final Path path;
    private final DiskOptions options;

    FileStore(VmwareFileTarget t) {
      this.kind = t.scheme();
      this.target = t.toString();
      this.path = t.path();
      this.options = t.diskOptions();
    }

    @Override
    public Optional<LocalOutput> localOutput() {
      // one image per file (or per ovf: directory); the disk options are part of what is written
      return Optional.of(new LocalOutput(path, kind, options.toString(), false));
    }

    @Override
    public PublishedImage publish(ImageView image, PublishContext ctx) throws BakeException {
      checkPlatform(target, image);
      Optional<ContentSigner> signer = signer(ctx);
      DiskCache.CachedDisk disk = RawDiskStores.diskCache(ctx, target).disk(image, options);
      Map<String, String> details = new LinkedHashMap<>();
      details.put("path", path.toString());
      details.put("diskSha256", disk.sha256().toString());
      try {
        String name = path.getFileName().toString().replaceFirst("\\.(ova|vmdk)$", "");
        switch (kind) {
          case "vmdk" -> {
            VmdkInfo info = VmdkWriter.defaults().write(disk.path(), path);
            details.put("size", Long.toString(info.fileSize()));
            details.put("cid", info.cid());
          }
          case "ova" -> {
            OvaArchive ova = signed(ovf(name, image), signer).writeOva(disk.path(), path);
            details.put("sha256", ova.sha256().toString());
            signer.ifPresent(s -> details.put("signedBy", s.keyId()));
          }
          default -> {
            signed(ovf(name, image), signer).writeOvf(disk.path(), path);
            signer.ifPresent(s -> details.put("signedBy", s.keyId()));
          }
        }
      } catch (IOException e) {
        throw new ImageStoreException(target, "could not write " + path + ": " + e.getMessage(), e);
      }
      ctx.emit(new BakeEvent.Output(target, "wrote " + path));
      return new PublishedImage(target, image.digest(), false, details);
    }

    /**
     * The signer of {@code ova:} and {@code ovf:} packages ({@code Kiln.builder().signWith}),
     * checked before the disk is built: the OVF certificate needs the signer's X.509 certificate. A
     * VMDK has no place for a signature.
     */
    private Optional<ContentSigner> signer(PublishContext ctx) throws ImageStoreException {
      if (kind.equals("vmdk")) {
        return Optional.empty();
      }
      Optional<ContentSigner> signer = ctx.capability(ContentSigner.class);
      if (signer.isPresent() && signer.get().certificates().isEmpty()) {
        throw new ImageStoreException(target, OvfPackage.NO_CERTIFICATE);
      }
      return signer;
    }

    private static OvfPackage signed(OvfPackage p, Optional<ContentSigner> signer) {
      return signer.map(p::signedWith).orElse(p);
    }
  }

  /**
   * {@code ova:} and {@code ovf:}: signed when they are written, by the OVF certificate over their
   * manifest ({@link OvfPackage#signedWith}); the SBOMs and provenance are not put in the package.
   */
  private static final class PackageStore extends FileStore implements AttestationSink {
    PackageStore(VmwareFileTarget t) {
      super(t);
    }

    @Override
    public void attach(PublishedImage published, Attachments attachments, PublishContext ctx) {
      // the package's NAME.cert, written by publish, is its signature
    }
  }

  /** {@code vsphere://}: idempotent by the Kiln digest in the annotation or item description. */
  private static final class VsphereStore implements ImageStore {
    private final VsphereTarget target;

    VsphereStore(VsphereTarget target) {
      this.target = target;
    }

    private VspherePublisher publisher(PublishContext ctx) {
      return VspherePublisher.to(target)
          .credentials(Credentials.fromEnvironment())
          .listener(
              new PublishListener() {
                @Override
                public void bytesUploaded(String file, long done, long total) {
                  ctx.emit(new BakeEvent.BytesWritten(target + " " + file, done, total));
                }
              });
    }

    @Override
    public Optional<PublishedImage> find(ImageView image, PublishContext ctx) throws BakeException {
      checkPlatform(target.toString(), image);
      Optional<Digest> there = publisher(ctx).publishedDigest();
      if (there.isPresent() && there.get().equals(image.digest())) {
        return Optional.of(
            new PublishedImage(
                target.toString(), image.digest(), true, Map.of("target", target.toString())));
      }
      return Optional.empty();
    }

    @Override
    public PublishedImage publish(ImageView image, PublishContext ctx) throws BakeException {
      checkPlatform(target.toString(), image);
      DiskCache.CachedDisk disk =
          RawDiskStores.diskCache(ctx, target.toString()).disk(image, target.diskOptions());
      try {
        OvfFiles files =
            ovf(target.name(), image).writeOvf(disk.path(), ctx.newTempDirectory().resolve("ovf"));
        PublishResult r = publisher(ctx).publish(files);
        return new PublishedImage(
            target.toString(),
            image.digest(),
            !r.uploaded(),
            Map.of("location", r.location(), "bytesUploaded", Long.toString(r.bytesUploaded())));
      } catch (IOException e) {
        throw new ImageStoreException(
            target.toString(), "could not package the disk as OVF: " + e.getMessage(), e);
      }
    }
  }
}
