package dev.kiln.internal.oci;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.Digest;
import dev.kiln.ImageConfig;
import dev.kiln.LayerRecord;
import dev.kiln.Platform;
import dev.kiln.spi.IndexPlatforms;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads an image from an OCI image layout by tag: its manifest, config and layer blobs. */
public final class OciLayoutReader {

  /** One layer of the image: blob path, digests and media type. */
  public record BlobLayer(Path blob, Digest digest, Digest diffId, String mediaType, long size) {}

  /** The image found. */
  public record Image(
      Digest manifest, JsonNode config, ImageConfig runtimeConfig, List<BlobLayer> layers) {}

  private OciLayoutReader() {}

  /** The image tagged {@code tag}; from an image index, the linux/amd64 image. */
  public static Image read(Path layout, String tag) throws IOException {
    return read(layout, tag, Platform.LINUX_AMD64);
  }

  /**
   * The image tagged {@code tag} for {@code platform}: from an image index, the image for that
   * platform; a single image must be of that platform (or say none).
   */
  public static Image read(Path layout, String tag, Platform platform) throws IOException {
    if (!Files.isRegularFile(layout.resolve("oci-layout"))) {
      throw new IOException("'" + layout + "' is not an OCI image layout (no oci-layout file)");
    }
    JsonNode index = Json.read(Files.readAllBytes(layout.resolve("index.json")));
    JsonNode desc = null;
    List<String> tags = new ArrayList<>();
    for (JsonNode m : index.path("manifests")) {
      String ref = m.path("annotations").path(Json.REF_NAME).asText("");
      tags.add(ref);
      if (ref.equals(tag)) {
        desc = m;
      }
    }
    if (desc == null) {
      throw new IOException(
          "no image tagged '"
              + tag
              + "' in the OCI layout "
              + layout
              + " (tags found: "
              + tags
              + ")");
    }
    JsonNode manifest = Json.read(blob(layout, Digest.parse(desc.path("digest").asText())));
    Digest manifestDigest = Digest.parse(desc.path("digest").asText());
    String mt = manifest.path("mediaType").asText(desc.path("mediaType").asText());
    if (mt.equals(Json.INDEX_TYPE)
        || mt.equals(Json.DOCKER_LIST_TYPE)
        || manifest.has("manifests")) {
      JsonNode imageIndex = manifest;
      JsonNode chosen =
          IndexPlatforms.choose(imageIndex, platform)
              .orElseThrow(
                  () ->
                      new IOException(
                          "the image index tagged '"
                              + tag
                              + "' in "
                              + layout
                              + " has no "
                              + platform
                              + " image (it offers "
                              + String.join(", ", IndexPlatforms.offered(imageIndex))
                              + ")"));
      manifestDigest = Digest.parse(chosen.path("digest").asText());
      manifest = Json.read(blob(layout, manifestDigest));
    }
    Digest configDigest = Digest.parse(manifest.path("config").path("digest").asText());
    JsonNode config = Json.read(blob(layout, configDigest));
    Platform is = IndexPlatforms.platform(config);
    if (!config.path("architecture").asText("").isEmpty() && !platform.accepts(is)) {
      throw new IOException(
          "the image tagged '" + tag + "' in " + layout + " is " + is + ", not " + platform);
    }
    JsonNode diffIds = config.path("rootfs").path("diff_ids");
    JsonNode layers = manifest.path("layers");
    if (diffIds.size() != layers.size()) {
      throw new IOException(
          "image '"
              + tag
              + "' in "
              + layout
              + " lists "
              + layers.size()
              + " layers but "
              + diffIds.size()
              + " diff_ids");
    }
    List<BlobLayer> out = new ArrayList<>();
    for (int i = 0; i < layers.size(); i++) {
      JsonNode l = layers.get(i);
      Digest d = Digest.parse(l.path("digest").asText());
      String media = l.path("mediaType").asText(LayerRecord.GZIP_LAYER);
      if (media.contains("zstd")) {
        throw new IOException(
            "layer " + d + " of '" + tag + "' is zstd-compressed, which Kiln does not read yet");
      }
      out.add(
          new BlobLayer(
              layout.resolve("blobs").resolve("sha256").resolve(d.hex()),
              d,
              Digest.parse(diffIds.get(i).asText()),
              media,
              l.path("size").asLong()));
    }
    return new Image(manifestDigest, config, OciImages.runtimeConfig(config), out);
  }

  private static byte[] blob(Path layout, Digest d) throws IOException {
    Path p = layout.resolve("blobs").resolve("sha256").resolve(d.hex());
    try {
      byte[] b = Files.readAllBytes(p);
      if (!Digest.of(b).equals(d)) {
        throw new IOException("blob " + p + " does not match its digest");
      }
      return b;
    } catch (NoSuchFileException e) {
      throw new IOException("blob " + d + " is missing from the OCI layout (" + p + ")", e);
    }
  }
}
