package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.hash.Hashing;
import dev.kiln.Digest;
import dev.kiln.spi.FileDigests;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which files are part of an Ansible layer's key, and which are not. */
class AnsibleTreeTest {
  private static final FileDigests SHA256 =
      f ->
          new Digest(
              com.google.common.io.Files.asByteSource(f.toFile())
                  .hash(Hashing.sha256())
                  .toString());

  @TempDir Path repo;
  private Path playbook;

  @BeforeEach
  void tree() throws Exception {
    Path dir = Files.createDirectories(repo.resolve("ansible"));
    playbook = Files.writeString(dir.resolve("site.yml"), "- hosts: all\n  roles: [web]\n");
    Files.createDirectories(dir.resolve("roles/web/templates"));
    Files.writeString(dir.resolve("roles/web/templates/a.j2"), "a={{ a }}\n");
    Files.createDirectories(dir.resolve("group_vars"));
    Files.writeString(dir.resolve("group_vars/all.yml"), "a: 1\n");
    Files.writeString(dir.resolve("requirements.yml"), "collections: []\n");
    Files.writeString(dir.resolve("README.md"), "docs\n");
    Files.createDirectories(dir.resolve("docs"));
    Files.writeString(dir.resolve("docs/x.txt"), "x\n");
    Files.writeString(repo.resolve("build.gradle"), "unrelated\n");
  }

  private Digest digest() throws Exception {
    return AnsibleTree.playbookTree(playbook, SHA256);
  }

  @Test
  void ansibleContentCountsAndNothingElse() throws Exception {
    Digest d = digest();
    Files.writeString(repo.resolve("build.gradle"), "changed\n");
    Files.writeString(playbook.resolveSibling("README.md"), "changed\n");
    Files.writeString(playbook.resolveSibling("docs/x.txt"), "changed\n");
    Files.setLastModifiedTime(playbook, FileTime.fromMillis(1));
    Files.createDirectories(playbook.resolveSibling("roles/web/templates/__pycache__"));
    Files.writeString(playbook.resolveSibling("roles/web/templates/__pycache__/x.pyc"), "bytecode");
    Files.createDirectories(playbook.resolveSibling(".git"));
    Files.writeString(playbook.resolveSibling(".git/HEAD"), "ref\n");
    assertThat(digest()).isEqualTo(d);

    Files.writeString(playbook.resolveSibling("roles/web/templates/a.j2"), "a={{ a }}!\n");
    Digest template = digest();
    assertThat(template).isNotEqualTo(d);
    Files.writeString(playbook.resolveSibling("group_vars/all.yml"), "a: 2\n");
    assertThat(digest()).isNotEqualTo(template);
  }

  @Test
  void everyPlaceAnsibleLooksNextToAPlaybookCounts() throws Exception {
    for (String p :
        new String[] {
          "requirements.yml",
          "other-playbook.yaml",
          "host_vars/kiln-image.yml",
          "collections/ansible_collections/x/y/galaxy.yml",
          "files/f",
          "templates/t.j2",
          "vars/v.yml",
          "tasks/t.yml",
          "handlers/h.yml",
          "library/m.py",
          "filter_plugins/f.py",
          "module_utils/u.py"
        }) {
      Digest before = digest();
      Path f = playbook.resolveSibling(p);
      Files.createDirectories(f.getParent());
      Files.writeString(
          f,
          "content of " + p + "\n",
          java.nio.file.StandardOpenOption.CREATE,
          java.nio.file.StandardOpenOption.APPEND);
      assertThat(digest()).as(p).isNotEqualTo(before);
    }
  }

  @Test
  void theCheckoutLocationAndSymlinksDoNotMatterButTheirTargetsDo() throws Exception {
    Digest d = digest();
    Path moved = Files.move(repo.resolve("ansible"), repo.resolve("elsewhere"));
    playbook = moved.resolve("site.yml");
    assertThat(digest()).isEqualTo(d);

    Path shared = Files.createDirectories(repo.resolve("shared/common/tasks"));
    Files.writeString(shared.resolve("main.yml"), "- debug: msg=hi\n");
    Files.createSymbolicLink(moved.resolve("roles/common"), repo.resolve("shared/common"));
    Digest linked = digest();
    assertThat(linked).isNotEqualTo(d);
    Files.writeString(shared.resolve("main.yml"), "- debug: msg=changed\n");
    assertThat(digest()).isNotEqualTo(linked);
  }

  @Test
  void explicitPathsAreHashedRelativeToThemselves() throws Exception {
    Path a = Files.createDirectories(repo.resolve("a/roles/r/tasks"));
    Files.writeString(a.resolve("main.yml"), "- debug: msg=1\n");
    Path b = Files.createDirectories(repo.resolve("b/roles/r/tasks"));
    Files.writeString(b.resolve("main.yml"), "- debug: msg=1\n");
    assertThat(AnsibleTree.path(repo.resolve("a/roles"), SHA256))
        .isEqualTo(AnsibleTree.path(repo.resolve("b/roles"), SHA256));
    Files.writeString(b.resolve("main.yml"), "- debug: msg=2\n");
    assertThat(AnsibleTree.path(repo.resolve("a/roles"), SHA256))
        .isNotEqualTo(AnsibleTree.path(repo.resolve("b/roles"), SHA256));
  }
}
