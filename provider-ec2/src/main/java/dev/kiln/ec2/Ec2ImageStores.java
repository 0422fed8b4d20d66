package dev.kiln.ec2;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.Attestation;
import dev.kiln.BakeException;
import dev.kiln.Digest;
import dev.kiln.ImageStoreException;
import dev.kiln.LayerRecord;
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
import dev.kiln.spi.Cosign;
import dev.kiln.spi.Dsse;
import dev.kiln.spi.ImageStore;
import dev.kiln.spi.ImageStoreProvider;
import dev.kiln.spi.ImageView;
import dev.kiln.spi.PublishContext;
import dev.kiln.spi.RemoteCache;
import dev.kiln.spi.SignedDocuments;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * {@code ec2://REGION/NAME}: the image's raw disk (from the engine's disk cache) uploaded with the
 * EBS direct APIs — incrementally against the snapshot of the image's base when one is tagged with
 * the base's cache key — and registered as an AMI. Idempotent by the Kiln image digest tag.
 */
public final class Ec2ImageStores implements ImageStoreProvider {

  @Override
  public Set<String> schemes() {
    return Set.of("ec2");
  }

  @Override
  public ImageStore create(Target target) {
    return new Ec2Store(Ec2Target.from(target));
  }

  private static final class Ec2Store implements ImageStore, AttestationSink {
    private final Ec2Target target;

    Ec2Store(Ec2Target target) {
      this.target = target;
    }

    @Override
    public Optional<PublishedImage> find(ImageView image, PublishContext ctx) throws BakeException {
      checkPlatform(image);
      try (Ec2Clients clients = Ec2Clients.create(target)) {
        Ec2Publisher publisher = Ec2Publisher.create(clients);
        Optional<Ami> ami = publisher.find(image.digest());
        if (ami.isEmpty()) {
          return Optional.empty();
        }
        // sharing or copies asked for since the first bake are applied to the AMI found
        Ami shared = publisher.registrar().ensureSharedAndCopied(ami.get(), snapshotKey(image));
        return Optional.of(published(image, shared, 0));
      }
    }

    @Override
    public PublishedImage publish(ImageView image, PublishContext ctx) throws BakeException {
      checkPlatform(image);
      if (ctx.capability(ContentSigner.class).isPresent()) {
        checkRoomForSignatureTags(image);
      }
      DiskCache disks = RawDiskStores.diskCache(ctx, target.toString());
      DiskOptions options = target.diskOptions();
      DiskCache.CachedDisk disk = disks.disk(image, options);
      PublishRequest request =
          PublishRequest.of(disk.path(), image.digest(), snapshotKey(image)).inputs(inputs(image));
      Optional<DiskCache.CachedDisk> base = disks.baseDisk(image, options);
      if (base.isPresent()) {
        request = request.base(snapshotKey(image, baseKey(image)), base.get().path());
      }
      String subject = target.toString();
      try (Ec2Clients clients = Ec2Clients.create(target)) {
        Ec2Publisher publisher = Ec2Publisher.create(clients);
        Optional<RemoteCache> remote = ctx.capability(RemoteCache.class);
        if (remote.isPresent()) {
          publisher = publisher.snapshotDirectory(new RemoteSnapshots(remote.get()));
        }
        PublishResult r =
            publisher.publish(
                request,
                p ->
                    ctx.emit(new BakeEvent.BytesWritten(subject, p.bytesScanned(), p.diskBytes())));
        long sent = r.upload().map(UploadResult::bytesSent).orElse(0L);
        PublishedImage out = published(image, r.ami(), sent);
        return r.reused() ? out.asReused() : out;
      }
    }

    /**
     * The image's platform must be the one of the AMI's architecture: a disk of the other one would
     * not boot. Checked before anything is built or uploaded.
     */
    private void checkPlatform(ImageView image) throws ImageStoreException {
      Platform p = image.platform();
      if (p.accepts(target.platform()) || target.platform().accepts(p)) {
        return;
      }
      String hint =
          p.equals(Platform.LINUX_AMD64)
              ? ", or use arch=x86_64 (the default)"
              : p.equals(Platform.LINUX_ARM64) ? ", or use arch=arm64" : "";
      throw new ImageStoreException(
          target.toString(),
          "the image is for "
              + p
              + " but arch="
              + target.architecture()
              + " registers an AMI for "
              + target.platform()
              + ", which would not boot it: bake the image for "
              + target.platform()
              + hint);
    }

    /**
     * With a signer: signs the AMI (and each copy) — a DSSE envelope of the cosign simple signing
     * payload naming {@code ec2://REGION/AMI-ID} and the image digest — keeps the signatures and
     * the signed envelopes of the documents in the local store beside the image's record, and tags
     * each AMI with the digests of its signature, of the documents and of their envelopes ({@link
     * KilnTags#SIGNATURE}, {@link KilnTags#SBOM_SPDX}, …). The documents and envelopes are kept
     * before any AMI is tagged, so a tag never names something that is not there.
     */
    @Override
    public void attach(PublishedImage published, Attachments attachments, PublishContext ctx)
        throws BakeException {
      String t = target.toString();
      Map<String, String> amis = amis(published);
      Map<String, String> common = new LinkedHashMap<>();
      List<SignedDocuments.Document> keep = new ArrayList<>();
      List<SignedDocuments.Document> documents = new ArrayList<>();
      for (Attachments.Attested a : attachments.attestations()) {
        String tag = documentTag(a.document().kind());
        documents.add(
            new SignedDocuments.Document(tag, a.document().mediaType(), a.document().content()));
        common.put(tag, a.document().digest().toString());
        SignedDocuments.Document envelope =
            new SignedDocuments.Document(tag + KilnTags.DSSE_SUFFIX, Dsse.MEDIA_TYPE, a.envelope());
        common.put(tag + KilnTags.DSSE_SUFFIX, envelope.digest().toString());
        keep.add(envelope);
      }
      Map<String, Map<String, String>> tags = new LinkedHashMap<>();
      try {
        for (Map.Entry<String, String> ami : amis.entrySet()) {
          byte[] payload =
              Cosign.payload(amiReference(ami.getKey(), ami.getValue()), attachments.image());
          SignedDocuments.Document signature =
              new SignedDocuments.Document(
                  KilnTags.SIGNATURE + " " + ami.getKey() + " " + ami.getValue(),
                  Dsse.MEDIA_TYPE,
                  Dsse.sign(Cosign.SIMPLE_SIGNING, payload, List.of(attachments.signer())));
          keep.add(signature);
          Map<String, String> each = new LinkedHashMap<>(common);
          each.put(KilnTags.SIGNATURE, signature.digest().toString());
          tags.put(ami.getKey() + " " + ami.getValue(), each);
        }
        SignedDocuments store =
            ctx.capability(SignedDocuments.class)
                .orElseThrow(
                    () ->
                        new ImageStoreException(
                            t, "this engine cannot keep the AMI's signature (no SignedDocuments)"));
        store.keep(attachments.image(), t, keep);
      } catch (IOException e) {
        throw new ImageStoreException(t, "could not sign or keep the AMI's signature: " + e, e);
      }
      try (Ec2Clients clients = Ec2Clients.create(target)) {
        if (target.attestations().isPresent()) {
          List<SignedDocuments.Document> all = new ArrayList<>(documents);
          all.addAll(keep);
          publishAttestations(clients, all);
        }
        AmiRegistrar registrar = AmiRegistrar.create(clients);
        for (Map.Entry<String, Map<String, String>> e : tags.entrySet()) {
          String[] regionAndId = e.getKey().split(" ", 2);
          registrar.tagImage(regionAndId[0], regionAndId[1], e.getValue());
        }
      }
      ctx.emit(
          new BakeEvent.Output(
              t, "tagged " + String.join(", ", amis.values()) + " with its signature"));
    }

    /**
     * A signed AMI carries up to {@link #SIGNATURE_TAGS} more tags than it is registered with; an
     * AMI that would pass EC2's limit with them is refused before a disk is built or a block sent.
     */
    private void checkRoomForSignatureTags(ImageView image) throws ImageStoreException {
      // kiln:digest, kiln:key, kiln:name, kiln:state, the target's tags, kiln:input:NAME per layer
      int registered = 4 + target.tags().size() + inputs(image).size();
      if (registered + SIGNATURE_TAGS > KilnTags.MAX_TAGS) {
        throw new ImageStoreException(
            target.toString(),
            "a signed AMI carries "
                + SIGNATURE_TAGS
                + " tags naming its signature, SBOMs and provenance besides the "
                + registered
                + " it is registered with (Kiln's, "
                + target.tags().size()
                + " tag.KEY parameters and "
                + inputs(image).size()
                + " layers): EC2 allows "
                + KilnTags.MAX_TAGS
                + "; pass fewer tag.KEY parameters");
      }
    }

    /**
     * Puts each document at {@code PREFIX/sha256/<hex>} in the attestations bucket, unless an
     * object is there already (content-addressed: it holds these bytes).
     */
    private void publishAttestations(Ec2Clients clients, List<SignedDocuments.Document> documents)
        throws ImageStoreException {
      String bucket = target.attestationsBucket().orElseThrow();
      S3Client s3 = clients.s3();
      for (SignedDocuments.Document d : documents) {
        String key = target.attestationsKey(d.digest()).orElseThrow();
        try {
          try {
            s3.headObject(b -> b.bucket(bucket).key(key));
            continue;
          } catch (NoSuchKeyException e) {
            // not there yet
          } catch (S3Exception e) {
            if (e.statusCode() != 404) {
              throw e;
            }
          }
          byte[] content = d.content();
          s3.putObject(
              b -> b.bucket(bucket).key(key).contentType(d.mediaType()),
              RequestBody.fromBytes(content));
        } catch (RuntimeException e) {
          throw new ImageStoreException(
              target.toString(),
              "could not publish "
                  + d.name()
                  + " ("
                  + d.digest()
                  + ") to s3://"
                  + bucket
                  + "/"
                  + key
                  + ": "
                  + EbsSnapshotUploader.describeError(e),
              e);
        }
      }
    }

    /** Region to AMI id: the AMI and each copy, as {@link Ami#details()} lists them. */
    private Map<String, String> amis(PublishedImage published) throws ImageStoreException {
      Map<String, String> d = published.details();
      String region = d.get("region");
      String id = d.get("imageId");
      if (region == null || id == null) {
        throw new ImageStoreException(
            target.toString(), "the publication names no AMI to sign: " + d);
      }
      Map<String, String> amis = new LinkedHashMap<>();
      amis.put(region, id);
      d.forEach(
          (k, v) -> {
            if (k.startsWith("copy.")) {
              amis.put(k.substring("copy.".length()), v);
            }
          });
      return amis;
    }

    private PublishedImage published(ImageView image, Ami ami, long bytesSent) {
      Map<String, String> d = new LinkedHashMap<>(ami.details());
      d.put("bytesSent", Long.toString(bytesSent));
      return new PublishedImage(target.toString(), image.digest(), false, d);
    }
  }

  /**
   * The most tags a signed AMI gets besides the ones it is registered with: {@code kiln:signature},
   * and for each of the three documents its digest and its envelope's.
   */
  static final int SIGNATURE_TAGS = 7;

  /** What an AMI's signature names as the image's location: {@code ec2://REGION/AMI-ID}. */
  static String amiReference(String region, String imageId) {
    return "ec2://" + region + "/" + imageId;
  }

  /** The tag that names the digest of a document of {@code kind}. */
  static String documentTag(Attestation.Kind kind) {
    return switch (kind) {
      case SPDX -> KilnTags.SBOM_SPDX;
      case CYCLONEDX -> KilnTags.SBOM_CYCLONEDX;
      case PROVENANCE -> KilnTags.PROVENANCE;
    };
  }

  /**
   * Snapshot ids in the remote cache: {@code ec2-snapshots/REGION.KEYHEX} → {@code {"snapshotId":
   * …,"region":…,"key":…}}. The key is the image's cache key, which does not depend on the account;
   * the id is only a hint, checked before use.
   */
  static final class RemoteSnapshots implements SnapshotDirectory {
    static final String NAMESPACE = "ec2-snapshots";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern ID = Pattern.compile("snap-[0-9a-f]+");
    private final RemoteCache remote;

    /** One entry; fields it does not know (of other versions) are ignored when read. */
    @JsonPropertyOrder({"snapshotId", "region", "key"})
    @JsonIgnoreProperties(ignoreUnknown = true)
    record Entry(String snapshotId, String region, String key) {}

    RemoteSnapshots(RemoteCache remote) {
      this.remote = remote;
    }

    static String key(String region, String cacheKey) {
      return region + "." + cacheKey.replaceFirst("^sha256:", "");
    }

    @Override
    public Optional<String> find(String region, String cacheKey) {
      try {
        Optional<byte[]> e = remote.getEntry(NAMESPACE, key(region, cacheKey));
        if (e.isEmpty()) {
          return Optional.empty();
        }
        Entry entry = JSON.readValue(e.get(), Entry.class);
        return Optional.ofNullable(entry)
            .map(Entry::snapshotId)
            .filter(id -> ID.matcher(id).matches());
      } catch (IOException | RuntimeException ex) {
        return Optional.empty();
      }
    }

    @Override
    public void record(String region, String cacheKey, String snapshotId) {
      try {
        remote.putEntry(
            NAMESPACE,
            key(region, cacheKey),
            JSON.writeValueAsBytes(new Entry(snapshotId, region, cacheKey)),
            Optional.empty());
      } catch (IOException | RuntimeException ex) {
        // the remote said it is unavailable (its own event); the account's tags still find the
        // snapshot
      }
    }
  }

  /**
   * The key an image's snapshot is tagged with and found by: see {@link #snapshotKey(ImageView,
   * Digest)}.
   */
  static String snapshotKey(ImageView image) {
    return snapshotKey(image, image.key());
  }

  /**
   * The key of the snapshot of the disk whose top layer has cache key {@code key}, on the image's
   * platform: the key itself for linux/amd64 (the snapshots Kiln always tagged), else a digest of
   * the key and the platform, since a files-only base has the same key on every platform but not
   * the same disk: an arm64 upload never starts from an amd64 snapshot.
   */
  static String snapshotKey(ImageView image, Digest key) {
    Platform p = image.platform();
    if (p.equals(Platform.LINUX_AMD64)) {
      return key.toString();
    }
    return "sha256:"
        + com.google.common.hash.Hashing.sha256()
            .hashString("kiln.ec2.snapshot.v1\n" + key + "\n" + p, StandardCharsets.UTF_8);
  }

  /**
   * The cache key of the image's base (the top layer of its last base), whose snapshot the upload
   * starts from.
   */
  static Digest baseKey(ImageView image) {
    List<LayerRecord> layers = image.layers();
    int k = 0;
    for (int b : image.bases()) {
      if (b > k && b < layers.size()) {
        k = b;
      }
    }
    return layers.get(k - 1).key();
  }

  /** The image's layers as AMI inputs: layer name → diffID. */
  static Map<String, String> inputs(ImageView image) {
    Map<String, String> in = new LinkedHashMap<>();
    for (LayerRecord l : image.layers()) {
      in.put(l.name(), l.diffId().toString());
    }
    return in;
  }
}
