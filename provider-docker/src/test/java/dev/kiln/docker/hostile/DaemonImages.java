package dev.kiln.docker.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.testing.Tools;

/** What the daemon holds under a tag, checked against a bake's result. */
final class DaemonImages {
  private DaemonImages() {}

  /** {@code ref} is the image of {@code r}: its id is the config digest, its layers r's diffIDs. */
  static void assertTagged(String docker, String ref, BakeResult r) {
    assertThat(Tools.run(docker, "image", "inspect", "--format", "{{.Id}}", ref).ok().output())
        .isEqualToIgnoringWhitespace(r.configDigest().toString());
    assertThat(
            Tools.run(docker, "image", "inspect", "--format", "{{json .RootFS.Layers}}", ref)
                .ok()
                .output()
                .strip())
        .isEqualTo(
            r.layers().stream()
                .map(l -> "\"" + l.diffId() + "\"")
                .toList()
                .toString()
                .replace(", ", ","));
  }
}
