package dev.kiln.internal.provision;

import dev.kiln.Digest;
import dev.kiln.Layer;
import java.nio.file.Path;

/**
 * A layer of an OCI-layout base image: its blob is used as it is (gzip) or rewritten (plain tar).
 */
public record OciBaseLayer(String name, Path blob, Digest digest, Digest diffId, String mediaType)
    implements Layer {
  public static final String KIND = "oci-base";

  @Override
  public String kind() {
    return KIND;
  }
}
