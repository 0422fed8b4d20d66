package dev.kiln;

import java.nio.file.Path;

/**
 * One layer of an image: a named, immutable recipe of a given kind ({@code files}, {@code tar},
 * {@code run}, {@code ansible}, …). A {@link dev.kiln.spi.Provisioner} for the kind turns it into
 * content; which one is chosen by {@link #kind()}.
 *
 * <p>Implementations are immutable values and thread-safe.
 */
public interface Layer {

  /** The layer kind that selects the provisioner, such as {@code files}. */
  String kind();

  /** A short human name, shown in events, history and errors. */
  String name();

  /**
   * A layer of files copied from the build machine. Add entries with {@link FilesLayer#add}.
   *
   * <pre>{@code Layer.files("app").add(Path.of("target/app.jar"), "/opt/app/app.jar", 0644)}</pre>
   */
  static FilesLayer files(String name) {
    return FilesLayer.named(name);
  }

  /**
   * A layer whose content is the entries of a tarball (plain or gzip), normalised to canonical
   * form.
   */
  static TarLayer tar(Path tarball) {
    return TarLayer.of(tarball);
  }

  /**
   * A layer made by running shell commands in a container of the image below; the layer is what
   * they changed. Needs {@code dev.kiln:kiln-provider-docker}.
   *
   * <pre>
   * {@code Layer.run("app-user", "adduser -D app", "mkdir -p /srv/app").env("LANG", "C.UTF-8")}
   * </pre>
   */
  static RunLayer run(String name, String... commands) {
    return RunLayer.of(name, commands);
  }

  /**
   * A layer that installs OS packages with the image's own package manager and records their
   * versions. Needs {@code dev.kiln:kiln-provider-docker}.
   *
   * <pre>{@code Layer.packages("curl", "ca-certificates")}</pre>
   */
  static PackagesLayer packages(String... names) {
    return PackagesLayer.of(names);
  }

  /**
   * A layer made by running an existing Ansible playbook, unchanged, against a container of the
   * image below; the layer is what the play changed, cached by the playbook tree, the options and
   * the Ansible version. Needs {@code dev.kiln:kiln-provider-docker} and {@code ansible-playbook}
   * on the build machine.
   *
   * <pre>
   * {@code Layer.ansible(Path.of("ansible/site.yml")).groups("webservers").extraVars(Map.of("port", 8080))}
   * </pre>
   */
  static AnsibleLayer ansible(Path playbook) {
    return AnsibleLayer.of(playbook);
  }
}
