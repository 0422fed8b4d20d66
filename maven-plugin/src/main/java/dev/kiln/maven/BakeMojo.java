package dev.kiln.maven;

import dev.kiln.BakeException;
import dev.kiln.DefinitionContext;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.maven.artifact.Artifact;
import org.apache.maven.artifact.DependencyResolutionRequiredException;
import org.apache.maven.execution.MavenSession;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.plugins.annotations.ResolutionScope;
import org.apache.maven.project.MavenProject;

/**
 * Bakes the project's image definitions ({@code dev.kiln.ImageDefinition}) with its jar, classes,
 * resources and runtime dependencies, into Kiln's local store and the targets. Bound to {@code
 * package} by default.
 *
 * <pre>
 * mvn package kiln:bake -Dkiln.targets=oci-archive:target/app.tar,docker-daemon:app:latest
 * </pre>
 *
 * <p>Afterwards {@code target/kiln/NAME.digest} holds each image's digest, {@code
 * target/kiln/NAME.json} its targets, layers and what this bake provisioned, {@code
 * target/kiln/NAME.record.json} its image record (and, with {@code sbom} or {@code provenance},
 * NAME.json lists the documents); the project properties {@code kiln.digest} (the first image) and
 * {@code kiln.image.NAME.digest} carry the digests to the plugins that run after it.
 */
@Mojo(
    name = "bake",
    defaultPhase = LifecyclePhase.PACKAGE,
    requiresDependencyResolution = ResolutionScope.COMPILE_PLUS_RUNTIME,
    threadSafe = true)
public class BakeMojo extends AbstractMojo {
  /**
   * Prefix of the user properties passed to definitions as parameters: {@code
   * -Dkiln.param.env=prod}.
   */
  static final String PARAM_PREFIX = "kiln.param.";

  @Parameter(defaultValue = "${project}", readonly = true, required = true)
  private MavenProject project;

  @Parameter(defaultValue = "${session}", readonly = true, required = true)
  private MavenSession session;

  /**
   * The definition class; without it, the classes listed in {@code
   * META-INF/services/dev.kiln.ImageDefinition} on the project's class path.
   */
  @Parameter(property = "kiln.definition")
  private String definition;

  /**
   * Where each image is published (comma-separated on the command line); {@code {name}} is the
   * image's name.
   */
  @Parameter(property = "kiln.targets")
  private List<String> targets;

  /** Which of the definitions' images to bake (comma-separated); all of them when empty. */
  @Parameter(property = "kiln.images")
  private List<String> images;

  /**
   * Kiln's local store; by default {@code -Dkiln.store}, {@code $KILN_STORE}, then {@code
   * ~/.cache/kiln}.
   */
  @Parameter(property = "kiln.store")
  private File store;

  /**
   * Parameters for the definitions ({@code DefinitionContext.parameter}); {@code
   * -Dkiln.param.KEY=VALUE} adds.
   */
  @Parameter private Map<String, String> parameters;

  /** Where the digests, results and image records are written. */
  @Parameter(property = "kiln.outputDirectory", defaultValue = "${project.build.directory}/kiln")
  private File outputDirectory;

  /**
   * Writes SBOMs of each image: {@code true} (SPDX and CycloneDX), {@code false}, or the formats,
   * {@code spdx}, {@code cyclonedx} or {@code spdx,cyclonedx}. Off by default.
   */
  @Parameter(property = "kiln.sbom", defaultValue = "false")
  private String sbom;

  /** Writes an in-toto / SLSA v1 provenance statement of each image. Off by default. */
  @Parameter(property = "kiln.provenance", defaultValue = "false")
  private boolean provenance;

  /**
   * Signs each image, and its SBOMs and provenance as attestations, at the targets that hold them
   * ({@code docker://}, {@code oci:}) with this unencrypted EC P-256 private key (PEM). Off by
   * default.
   */
  @Parameter(property = "kiln.signingKey")
  private File signingKey;

  /** The certificate chain of {@code signingKey} (PEM, leaf first). */
  @Parameter(property = "kiln.signingCertificates")
  private File signingCertificates;

  /** Skips the bake. */
  @Parameter(property = "kiln.skip", defaultValue = "false")
  private boolean skip;

  @Override
  public void execute() throws MojoFailureException {
    if (skip) {
      getLog().info("kiln: skipped");
      return;
    }
    if ("pom".equals(project.getPackaging())) {
      // mvn package kiln:bake at the root of a multi-module build: the aggregator has no classes to
      // bake
      getLog().info("kiln: skipped: packaging is pom");
      return;
    }
    try {
      PluginBake.Request req =
          new PluginBake.Request(
              classpath(),
              definition,
              Set.copyOf(nonBlank(images)),
              nonBlank(targets),
              store == null ? null : store.toPath(),
              context(),
              outputDirectory.toPath(),
              new PluginBake.SupplyChain(
                  sbom,
                  provenance,
                  signingKey == null ? null : signingKey.toPath(),
                  signingCertificates == null ? null : signingCertificates.toPath()));
      List<PluginBake.Baked> baked =
          PluginBake.run(req, m -> getLog().info("kiln: " + m), m -> getLog().warn("kiln: " + m));
      for (PluginBake.Baked b : baked) {
        String digest = b.result().digest().toString();
        project.getProperties().putIfAbsent("kiln.digest", digest);
        project.getProperties().setProperty("kiln.image." + b.name() + ".digest", digest);
      }
    } catch (BakeException e) {
      throw new MojoFailureException("kiln: " + PluginBake.oneLine(e), e);
    }
  }

  private DefinitionContext context() throws BakeException {
    DefinitionContext.Builder b =
        DefinitionContext.builder()
            .projectDirectory(project.getBasedir().toPath())
            .version(project.getVersion());
    File jar = project.getArtifact() == null ? null : project.getArtifact().getFile();
    if (jar != null && jar.isFile()) {
      b.jar(jar.toPath());
    }
    Path classes = Path.of(project.getBuild().getOutputDirectory());
    if (Files.isDirectory(classes)) {
      b.classesDirectory(classes);
    }
    for (Artifact a : project.getArtifacts()) {
      String scope = a.getScope();
      if (!(Artifact.SCOPE_COMPILE.equals(scope) || Artifact.SCOPE_RUNTIME.equals(scope))
          || !a.getArtifactHandler().isAddedToClasspath()) {
        continue;
      }
      File f = a.getFile();
      if (f == null || !f.isFile()) {
        throw new BakeException(
            "dependency "
                + a
                + " has no jar yet ("
                + f
                + "): run kiln:bake in the package phase"
                + " or later, e.g. mvn package kiln:bake");
      }
      if (a.isSnapshot()) {
        b.snapshotDependency(f.toPath());
      } else {
        b.releaseDependency(f.toPath());
      }
    }
    Map<String, String> params = new LinkedHashMap<>();
    if (parameters != null) {
      parameters.forEach((k, v) -> params.put(k, v == null ? "" : v));
    }
    session
        .getUserProperties()
        .forEach(
            (k, v) -> {
              String key = String.valueOf(k);
              if (key.startsWith(PARAM_PREFIX) && key.length() > PARAM_PREFIX.length()) {
                params.put(key.substring(PARAM_PREFIX.length()), String.valueOf(v));
              }
            });
    return b.parameters(params).build();
  }

  private List<Path> classpath() throws BakeException {
    Set<String> elements = new LinkedHashSet<>();
    try {
      elements.addAll(project.getCompileClasspathElements());
      elements.addAll(project.getRuntimeClasspathElements());
    } catch (DependencyResolutionRequiredException e) {
      throw new BakeException("the project's dependencies are not resolved: " + e.getMessage(), e);
    }
    List<Path> out = new ArrayList<>();
    for (String e : elements) {
      out.add(Path.of(e));
    }
    return out;
  }

  private static List<String> nonBlank(List<String> values) {
    List<String> out = new ArrayList<>();
    if (values != null) {
      for (String v : values) {
        if (v != null && !v.isBlank()) {
          out.add(v.strip());
        }
      }
    }
    return out;
  }
}
