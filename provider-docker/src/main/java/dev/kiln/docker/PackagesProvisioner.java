package dev.kiln.docker;

import dev.kiln.BakeException;
import dev.kiln.Layer;
import dev.kiln.PackagesLayer;
import dev.kiln.ProvisioningException;
import dev.kiln.spi.Fingerprint;
import dev.kiln.spi.KeyContext;
import dev.kiln.spi.LayerBlob;
import dev.kiln.spi.PreparedLayer;
import dev.kiln.spi.ProvisionContext;
import dev.kiln.spi.Provisioner;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Provisions {@code packages} layers ({@link PackagesLayer}) with the image's own package manager,
 * in a container of the image below (see {@link PackageManagers} for the script), and records the
 * versions of every package the layer added or changed as layer metadata {@code package.NAME}, plus
 * {@code package-manager}. Thread-safe.
 */
final class PackagesProvisioner implements Provisioner {
  private final ContainerRunner runner;

  PackagesProvisioner(ContainerRunner runner) {
    this.runner = runner;
  }

  @Override
  public String kind() {
    return "packages";
  }

  @Override
  public PreparedLayer prepare(Layer layer, KeyContext ctx) throws BakeException {
    if (!(layer instanceof PackagesLayer pkgs)) {
      throw new ProvisioningException(
          layer.name(),
          "layer kind 'packages' must be a dev.kiln.PackagesLayer, found "
              + layer.getClass().getName());
    }
    // a refreshing layer gets a key no earlier bake had, so it is resolved again
    String nonce = pkgs.refreshes() ? UUID.randomUUID().toString() : "";
    return new PreparedLayer() {
      @Override
      public void fingerprint(Fingerprint fp) {
        fp.put("format", "packages.v1");
        fp.put("packages", pkgs.packages());
        if (!nonce.isEmpty()) {
          fp.put("refresh", nonce);
        }
      }

      @Override
      public boolean needsParent() {
        return true;
      }

      @Override
      public LayerBlob provision(ProvisionContext pc) throws BakeException {
        ContainerRunner.Spec spec =
            new ContainerRunner.Spec(
                pkgs.name(),
                PackageManagers.script(pkgs.packages()),
                Map.of(),
                null,
                null,
                List.of(),
                pkgs.timeout(),
                pkgs.network().orElse(null),
                line -> line.startsWith(PackageManagers.MARKER));
        ContainerRunner.Result r;
        try {
          r = runner.run(spec, pc);
        } catch (ProvisioningException e) {
          if (e.exitCode().orElse(0) == PackageManagers.NO_MANAGER) {
            throw new ProvisioningException(
                pkgs.name(),
                "the image below has no package manager Kiln knows (looked for apt-get with /var/lib/dpkg,"
                    + " dnf, yum and apk on the PATH): install packages with a run layer instead",
                e);
          }
          throw e;
        }
        PackageManagers.Report report = PackageManagers.parse(r.hidden());
        Map<String, String> md = new LinkedHashMap<>();
        md.put("package-manager", report.manager());
        report.changed().forEach((name, version) -> md.put("package." + name, version));
        for (String requested : pkgs.packages()) {
          String name = requested.split("[=:]", 2)[0];
          String v = report.after().get(name);
          if (v != null) {
            md.put("package." + name, v);
          }
        }
        return r.blob().metadata(md);
      }
    };
  }
}
