package dev.kiln.examples.ec2;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import dev.kiln.PublishedImage;
import dev.kiln.Target;
import dev.kiln.ec2.Ec2Target;
import dev.kiln.examples.progress.ConsoleProgress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.function.Function;

/**
 * Base and app AMIs from one definition: the base (a Debian root file system with a kernel, plus
 * site configuration) is baked once, as CI would; the app image is {@code Base.of(base)} plus an
 * app layer, so its snapshot is uploaded incrementally against the base's snapshot — only the
 * blocks the app layer changed.
 *
 * <p>Usage: {@code BaseAndAppAmis ROOTFS.tar REGION [APP_DIR]} with AWS credentials from the SDK's
 * default chain (environment, profile, instance role). The IAM policy it needs is in docs/ec2.md.
 */
public final class BaseAndAppAmis {

  /** The two AMIs. */
  public record Amis(BakeResult base, BakeResult app) {}

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: BaseAndAppAmis ROOTFS.tar REGION [APP_DIR]");
      System.exit(2);
    }
    Path rootfs = Path.of(args[0]);
    String region = args[1];
    Path app = args.length > 2 ? Path.of(args[2]) : null;
    try (Kiln kiln = Kiln.builder().listener(new ConsoleProgress(System.out)).build()) {
      Amis amis = bake(kiln, rootfs, app, name -> Ec2Target.of(region, name));
      print(amis);
    }
  }

  /**
   * Bakes both images; {@code target} makes the ec2:// target for a name (tests point it at a
   * loopback server).
   */
  public static Amis bake(Kiln kiln, Path rootfs, Path appDir, Function<String, Target> target)
      throws Exception {
    ImageBuild base =
        ImageBuild.from(Base.rootfs(rootfs))
            .layer(
                Layer.files("site")
                    .content(
                        "/etc/motd",
                        "Built by Kiln. Do not change this box: bake a new one.\n"
                            .getBytes(StandardCharsets.UTF_8),
                        0644));
    Layer appLayer =
        appDir != null
            ? Layer.files("app").add(appDir, "/opt/app")
            : Layer.files("app")
                .content("/opt/app/VERSION", "1.0.0\n".getBytes(StandardCharsets.UTF_8), 0644);
    ImageBuild app = ImageBuild.from(Base.of(base)).layer(appLayer);

    BakeResult b = kiln.bake(base, target.apply("kiln-base"));
    BakeResult a = kiln.bake(app, target.apply("kiln-app"));
    return new Amis(b, a);
  }

  static void print(Amis amis) {
    for (BakeResult r : new BakeResult[] {amis.base(), amis.app()}) {
      for (PublishedImage p : r.published().values()) {
        System.out.printf(
            "%s: %s (snapshot %s, %s bytes sent%s)%n",
            p.target(),
            p.details().get("imageId"),
            p.details().get("snapshotId"),
            p.details().get("bytesSent"),
            p.reused() ? ", already there" : "");
      }
    }
  }
}
