package dev.kiln.docker;

import dev.kiln.testing.Tools;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;

/**
 * What the daemon holds, as the docker CLI lists it: containers (all, with stopped ones) and
 * images.
 */
record DockerState(List<String> containers, List<String> images) {
  static DockerState now() {
    String docker = Tools.requireDocker();
    return new DockerState(
        lines(
            Tools.run(
                    docker, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Image}} {{.Status}}")
                .ok()
                .output()),
        lines(
            Tools.run(
                    docker,
                    "images",
                    "-a",
                    "--no-trunc",
                    "--format",
                    "{{.Repository}}:{{.Tag}} {{.ID}}")
                .ok()
                .output()));
  }

  private static List<String> lines(String s) {
    return List.copyOf(
        new TreeSet<>(
            Arrays.stream(s.split("\n")).map(String::strip).filter(l -> !l.isEmpty()).toList()));
  }
}
