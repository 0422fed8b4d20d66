package dev.kiln.examples.ansible;

import dev.kiln.BakeException;
import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.examples.progress.ConsoleProgress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Bakes an existing Ansible playbook ({@code examples/src/main/ansible}: a role with a user,
 * directories, templates, a handler and a systemd unit, plus {@code group_vars}) into a Docker
 * image <em>and</em> a bootable raw disk from one definition: the Ansible layer is provisioned once
 * and both targets get the same layer. The image serves a page with python3's http.server on port
 * 8080, in Docker as the image's command and on the disk as a systemd service.
 *
 * <p>Needs a Docker daemon, {@code ansible-playbook} with the {@code community.docker} collection
 * ({@code apt-get install ansible}) and {@code dev.kiln:kiln-provider-docker}; the root file system
 * needs python3 for Ansible and a kernel for the disk (scripts/disk/debian-rootfs.sh makes one with
 * mmdebstrap).
 *
 * <p>Usage: {@code AnsibleWebServer ROOTFS.tar [DISK.img] [PLAYBOOK.yml]} (defaults {@code
 * build/ansible-web.img} and the example's playbook).
 */
public final class AnsibleWebServer {
  /** Where the example publishes the Docker image. */
  public static final String IMAGE = "kiln-examples/ansible-web:latest";

  private AnsibleWebServer() {}

  /**
   * The example's playbook: {@code examples/src/main/ansible/site.yml}, from the repository root or
   * the module.
   */
  public static Path defaultPlaybook() {
    Path fromRoot = Path.of("examples/src/main/ansible/site.yml");
    return Files.isRegularFile(fromRoot) ? fromRoot : Path.of("src/main/ansible/site.yml");
  }

  /** The image: the root file system, the web server role, and how to start it. */
  public static ImageBuild definition(Path rootfs, Path playbook, String appName) {
    return ImageBuild.from(Base.rootfs(rootfs))
        .layer(
            Layer.ansible(playbook)
                .named("webapp role")
                .groups("webservers") // the play is for hosts: webservers
                .extraVars(Map.of("app_name", appName))) // overrides group_vars/webservers.yml
        .config(
            c ->
                c.cmd("/usr/local/bin/webapp-start")
                    .user("webapp")
                    .expose(8080)
                    .label("org.opencontainers.image.title", "kiln-ansible-web"));
  }

  /**
   * Bakes the image into the Docker daemon under {@code name} and into a raw disk at {@code disk}.
   */
  public static BakeResult bake(Kiln kiln, ImageBuild build, String name, Path disk)
      throws BakeException {
    return kiln.bake(build, "docker-daemon:" + name, "raw:" + disk.toAbsolutePath());
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: AnsibleWebServer ROOTFS.tar [DISK.img] [PLAYBOOK.yml]");
      System.err.println(
          "  a Debian root file system with python3 and a kernel: scripts/disk/debian-rootfs.sh prints one");
      System.exit(2);
    }
    Path rootfs = Path.of(args[0]);
    Path disk = Path.of(args.length > 1 ? args[1] : "build/ansible-web.img");
    Path playbook = args.length > 2 ? Path.of(args[2]) : defaultPlaybook();
    try (Kiln kiln = Kiln.builder().listener(new ConsoleProgress(System.out)).build()) {
      BakeResult r = bake(kiln, definition(rootfs, playbook, "kiln-ansible-example"), IMAGE, disk);
      System.out.println();
      System.out.println("image digest: " + r.digest());
      System.out.println(
          "Ansible layer: "
              + r.layers().get(1).diffId()
              + " (the same in the daemon and on the disk)");
      System.out.println("Next:");
      System.out.println(
          "  docker run --rm -p 8080:8080 " + IMAGE + "   # then open http://localhost:8080/");
      System.out.println(
          "  qemu-system-x86_64 -m 1024 -bios /usr/share/ovmf/OVMF.fd -snapshot -drive file="
              + disk
              + ",format=raw   # boots; webapp.service serves port 8080");
    }
  }
}
