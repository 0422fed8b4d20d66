package dev.kiln.internal.oci;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.Digest;
import dev.kiln.ImageConfig;
import dev.kiln.LayerRecord;
import dev.kiln.Platform;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** Builds OCI image configs and manifests in a fixed field order, and reads configs back. */
public final class OciImages {
  private OciImages() {}

  /**
   * The OCI image config for the given layers and runtime configuration. {@code created} is the
   * fixed layer time so the config (and the image digest) depend on nothing but the definition.
   */
  public static byte[] config(
      ImageConfig c, List<LayerRecord> layers, long createdEpochSeconds, Platform platform) {
    return config(
        c,
        layers.stream().map(l -> new ConfigLayer(l.kind(), l.name(), l.diffId())).toList(),
        platform,
        createdEpochSeconds);
  }

  /** What an image's config says of one layer: its kind and name (history) and diffID. */
  public record ConfigLayer(String kind, String name, Digest diffId) {}

  /**
   * The config of an image of {@code layers}, bottom first: the same bytes as {@link
   * #config(ImageConfig, List, long, Platform)} for records of those kinds, names and diffIDs.
   */
  public static byte[] config(
      ImageConfig c, List<ConfigLayer> layers, Platform platform, long createdEpochSeconds) {
    ObjectNode n = Json.object();
    String created = Instant.ofEpochSecond(createdEpochSeconds).toString();
    n.put("created", created);
    n.put("architecture", platform.architecture());
    n.put("os", platform.os());
    platform.variantIfAny().ifPresent(v -> n.put("variant", v));
    ObjectNode cfg = n.putObject("config");
    c.user().ifPresent(u -> cfg.put("User", u));
    if (!c.exposedPorts().isEmpty()) {
      ObjectNode ports = cfg.putObject("ExposedPorts");
      c.exposedPorts().forEach(p -> ports.putObject(p));
    }
    if (!c.env().isEmpty()) {
      ArrayNode env = cfg.putArray("Env");
      c.env().forEach((k, v) -> env.add(k + "=" + v));
    }
    c.entrypoint().ifPresent(e -> e.forEach(cfg.putArray("Entrypoint")::add));
    c.cmd().ifPresent(e -> e.forEach(cfg.putArray("Cmd")::add));
    c.workdir().ifPresent(w -> cfg.put("WorkingDir", w));
    if (!c.labels().isEmpty()) {
      ObjectNode labels = cfg.putObject("Labels");
      c.labels().forEach(labels::put);
    }
    ObjectNode rootfs = n.putObject("rootfs");
    rootfs.put("type", "layers");
    ArrayNode ids = rootfs.putArray("diff_ids");
    layers.forEach(l -> ids.add(l.diffId().toString()));
    ArrayNode history = n.putArray("history");
    for (ConfigLayer l : layers) {
      ObjectNode h = history.addObject();
      h.put("created", created);
      // content only: the image digest must not change when a recipe changes but its layers do not
      h.put("created_by", "kiln " + l.kind() + " " + l.name());
    }
    return Json.bytes(n);
  }

  /** One image of an index: its manifest's digest and size, and its platform. */
  public record IndexEntry(Digest manifest, long size, Platform platform) {}

  /**
   * The OCI image index of a multi-platform image: one descriptor per platform, in the order the
   * build names its platforms.
   */
  public static byte[] index(List<IndexEntry> images) {
    ObjectNode n = Json.object();
    n.put("schemaVersion", 2);
    n.put("mediaType", Json.INDEX_TYPE);
    ArrayNode ms = n.putArray("manifests");
    for (IndexEntry e : images) {
      ObjectNode d = Json.descriptor(Json.MANIFEST_TYPE, e.manifest(), e.size());
      ObjectNode p = d.putObject("platform");
      p.put("architecture", e.platform().architecture());
      p.put("os", e.platform().os());
      e.platform().variantIfAny().ifPresent(v -> p.put("variant", v));
      ms.add(d);
    }
    return Json.bytes(n);
  }

  /** The OCI image manifest. */
  public static byte[] manifest(Digest config, long configSize, List<LayerRecord> layers) {
    ObjectNode n = Json.object();
    n.put("schemaVersion", 2);
    n.put("mediaType", Json.MANIFEST_TYPE);
    n.set("config", Json.descriptor(Json.CONFIG_TYPE, config, configSize));
    ArrayNode ls = n.putArray("layers");
    for (LayerRecord l : layers) {
      ls.add(Json.descriptor(l.mediaType(), l.digest(), l.size()));
    }
    return Json.bytes(n);
  }

  /** The runtime configuration recorded in an OCI/Docker image config. */
  public static ImageConfig runtimeConfig(JsonNode config) {
    JsonNode c = config.path("config");
    ImageConfig ic = ImageConfig.empty();
    List<String> ep = strings(c.path("Entrypoint"));
    if (!c.path("Entrypoint").isMissingNode() && !c.path("Entrypoint").isNull()) {
      ic = ic.entrypoint(ep.toArray(String[]::new));
    }
    if (!c.path("Cmd").isMissingNode() && !c.path("Cmd").isNull()) {
      ic = ic.cmd(strings(c.path("Cmd")).toArray(String[]::new));
    }
    for (String kv : strings(c.path("Env"))) {
      int eq = kv.indexOf('=');
      if (eq > 0) {
        ic = ic.env(kv.substring(0, eq), kv.substring(eq + 1));
      }
    }
    String wd = c.path("WorkingDir").asText("");
    if (wd.startsWith("/")) {
      ic = ic.workdir(wd);
    }
    String user = c.path("User").asText("");
    if (!user.isEmpty()) {
      ic = ic.user(user);
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = c.path("Labels").fields(); it.hasNext(); ) {
      var e = it.next();
      ic = ic.label(e.getKey(), e.getValue().asText());
    }
    for (Iterator<String> it = c.path("ExposedPorts").fieldNames(); it.hasNext(); ) {
      ic = ic.expose(it.next());
    }
    return ic;
  }

  private static List<String> strings(JsonNode arr) {
    List<String> out = new ArrayList<>();
    arr.forEach(x -> out.add(x.asText()));
    return out;
  }
}
