package dev.kiln.docker;

import com.google.common.hash.Hasher;
import com.google.common.hash.Hashing;
import dev.kiln.Digest;
import dev.kiln.spi.FileDigests;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemLoopException;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Which files of the build machine an Ansible layer depends on, and their digest: the playbook, the
 * YAML files next to it, the directories Ansible looks into next to a playbook, and the roles and
 * includes given explicitly (see {@link dev.kiln.AnsibleLayer}). Paths enter the digest relative to
 * the directory they are found in, so the key does not depend on where the checkout is. Thread-safe
 * (stateless).
 */
final class AnsibleTree {
  /**
   * Directories next to a playbook that Ansible reads by itself: roles, inventory variables,
   * vendored collections, the places relative {@code src:}, {@code vars_files:} and {@code
   * include_tasks:} paths are looked up, and the adjacent module and plugin directories ({@code
   * *_plugins} too, see {@link #adjacent}).
   */
  static final Set<String> ADJACENT_DIRS =
      Set.of(
          "roles",
          "group_vars",
          "host_vars",
          "collections",
          "files",
          "templates",
          "vars",
          "tasks",
          "handlers",
          "library",
          "module_utils");

  private AnsibleTree() {}

  /** Whether {@code name}, an entry of the playbook's directory, belongs to the tree. */
  static boolean adjacent(String name, boolean directory) {
    if (name.startsWith(".")) {
      return false;
    }
    if (directory) {
      return ADJACENT_DIRS.contains(name)
          || name.endsWith("_plugins")
          || name.equals("doc_fragments");
    }
    return name.endsWith(".yml") || name.endsWith(".yaml");
  }

  /** Names left out anywhere in a tree: version control and Python's byte-code caches. */
  static boolean skipped(Path p) {
    String n = p.getFileName() == null ? "" : p.getFileName().toString();
    return n.equals(".git") || n.equals("__pycache__") || n.endsWith(".pyc");
  }

  /**
   * The digest of the playbook tree: every file under the playbook's directory that {@link
   * #adjacent} selects, by relative path. The playbook itself is always in it, whatever its
   * extension.
   */
  static Digest playbookTree(Path playbook, FileDigests files) throws IOException {
    Path dir = playbook.getParent();
    TreeMap<String, Path> top = new TreeMap<>();
    top.put(playbook.getFileName().toString(), playbook);
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : s.toList()) {
        String name = p.getFileName().toString();
        if (adjacent(name, Files.isDirectory(p)) && !skipped(p)) {
          top.put(name, p);
        }
      }
    }
    Hasher h = Hashing.sha256().newHasher();
    for (Path p : top.values()) {
      walk(h, dir, p, files);
    }
    return new Digest(h.hash().toString());
  }

  /**
   * The digest of a file or directory given explicitly (a roles directory, an include), relative to
   * itself.
   */
  static Digest path(Path path, FileDigests files) throws IOException {
    if (!Files.exists(path)) {
      throw new java.nio.file.NoSuchFileException(path.toString());
    }
    Hasher h = Hashing.sha256().newHasher();
    walk(h, path, path, files);
    return new Digest(h.hash().toString());
  }

  /**
   * Adds every entry under {@code start} (symlinks followed, as Ansible follows them) to the hash,
   * in path order.
   */
  private static void walk(Hasher h, Path base, Path start, FileDigests files) throws IOException {
    TreeMap<String, Path> sorted = new TreeMap<>();
    Files.walkFileTree(
        start,
        java.util.EnumSet.of(FileVisitOption.FOLLOW_LINKS),
        Integer.MAX_VALUE,
        new java.nio.file.SimpleFileVisitor<>() {
          @Override
          public java.nio.file.FileVisitResult preVisitDirectory(
              Path dir, java.nio.file.attribute.BasicFileAttributes a) {
            if (!dir.equals(start) && skipped(dir)) {
              return java.nio.file.FileVisitResult.SKIP_SUBTREE;
            }
            sorted.put(relative(base, dir), dir);
            return java.nio.file.FileVisitResult.CONTINUE;
          }

          @Override
          public java.nio.file.FileVisitResult visitFile(
              Path file, java.nio.file.attribute.BasicFileAttributes a) {
            if (!skipped(file)) {
              sorted.put(relative(base, file), file);
            }
            return java.nio.file.FileVisitResult.CONTINUE;
          }

          @Override
          public java.nio.file.FileVisitResult visitFileFailed(Path file, IOException e)
              throws IOException {
            if (e instanceof FileSystemLoopException) {
              throw new IOException(
                  "a symbolic link loops back into its own directory: " + file, e);
            }
            if (Files.isSymbolicLink(file) && !Files.exists(file)) {
              return java.nio.file.FileVisitResult
                  .CONTINUE; // a dangling link is nothing Ansible can read
            }
            throw e;
          }
        });
    for (var e : sorted.entrySet()) {
      Path p = e.getValue();
      if (Files.isDirectory(p)) {
        field(h, "d", e.getKey(), "", "");
      } else if (Files.isRegularFile(p)) {
        field(
            h,
            "f",
            e.getKey(),
            Files.isExecutable(p) ? "x" : "-",
            files.digest(p.toRealPath()).hex());
      }
      // sockets and fifos are nothing Ansible reads
    }
  }

  private static String relative(Path base, Path p) {
    return base.relativize(p).toString().replace('\\', '/');
  }

  private static void field(Hasher h, String... fields) {
    for (String f : fields) {
      byte[] b = f.getBytes(StandardCharsets.UTF_8);
      h.putInt(b.length).putBytes(b);
    }
  }
}
