package dev.kiln.docker;

import dev.kiln.testing.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/** Helpers shared by the integration tests of this module. */
final class DockerTesting {
  private DockerTesting() {}

  /**
   * The docker CLI of the engine package (not a wrapper earlier on PATH), with a running daemon.
   */
  static String docker() {
    Tools.requireDocker();
    return Path.of("/usr/bin/docker").toFile().canExecute()
        ? "/usr/bin/docker"
        : Tools.require("docker", "docker.io");
  }

  /** Removes images by reference, ignoring those already gone. */
  static void removeImages(String... refs) {
    for (String r : refs) {
      Tools.run(docker(), "rmi", "-f", r);
    }
  }

  /** Removes every kiln-parent/* image (parents loaded by run layers). */
  static void removeParentImages() {
    String out =
        Tools.run(
                docker(),
                "images",
                "--format",
                "{{.Repository}}:{{.Tag}}",
                "--filter",
                "reference=kiln-parent/*")
            .output();
    for (String ref : out.split("\n")) {
      if (!ref.isBlank()) {
        Tools.run(docker(), "rmi", "-f", ref.strip());
      }
    }
  }

  /**
   * Every layer blob (gzip) in a store, decompressed, as one string per blob (ISO-8859-1, so bytes
   * survive).
   */
  static List<String> decompressedBlobs(Path store) throws IOException {
    List<String> out = new ArrayList<>();
    try (var s = Files.list(store.resolve("blobs").resolve("sha256"))) {
      for (Path p : s.toList()) {
        byte[] b = Files.readAllBytes(p);
        if (b.length > 2 && (b[0] & 0xff) == 0x1f && (b[1] & 0xff) == 0x8b) {
          try (InputStream in = new GZIPInputStream(Files.newInputStream(p))) {
            b = in.readAllBytes();
          }
        }
        out.add(new String(b, StandardCharsets.ISO_8859_1));
      }
    }
    return out;
  }

  /** The blob file of a digest in a store. */
  static Path blob(Path store, dev.kiln.Digest d) {
    return store.resolve("blobs").resolve("sha256").resolve(d.hex());
  }
}
