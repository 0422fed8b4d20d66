package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSortedMap;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * What an {@link ImageDefinition} is given: which of its images is asked for, and the project's
 * artifacts (the built jar, the compiled classes and resources, the runtime dependencies split into
 * releases and snapshots, the project's version) and parameters (from the command line or the
 * build). A front door (the Maven plugin, the {@code kiln} command line, a test) builds one with
 * {@link #builder()}. Immutable and thread-safe.
 *
 * <p>{@link #javaLayers} lays a Java application out as Jib does: release dependencies, snapshot
 * dependencies, resources and classes in four layers, so that a change to one class re-provisions
 * only the classes layer.
 */
public final class DefinitionContext {
  private final String name;
  private final Path projectDirectory;
  private final String version;
  private final Path jar;
  private final Path classesDirectory;
  private final ImmutableList<Path> releaseDependencies;
  private final ImmutableList<Path> snapshotDependencies;
  private final ImmutableMap<String, String> parameters;

  private DefinitionContext(Builder b) {
    this.name = b.name;
    this.projectDirectory = b.projectDirectory;
    this.version = b.version;
    this.jar = b.jar;
    this.classesDirectory = b.classesDirectory;
    this.releaseDependencies = ImmutableList.copyOf(b.releaseDependencies);
    this.snapshotDependencies = ImmutableList.copyOf(b.snapshotDependencies);
    this.parameters = ImmutableMap.copyOf(b.parameters);
  }

  /** A builder: name {@link ImageDefinition#DEFAULT_NAME}, the working directory, no artifacts. */
  public static Builder builder() {
    return new Builder();
  }

  /** A copy of this context asking for the image {@code name}. */
  public DefinitionContext name(String name) {
    Builder b = toBuilder();
    b.name(name);
    return b.build();
  }

  /**
   * @deprecated use {@link #name(String)}
   */
  @Deprecated(since = "0.2")
  public DefinitionContext withName(String name) {
    return name(name);
  }

  /** A builder holding everything this context holds. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.name = name;
    b.projectDirectory = projectDirectory;
    b.version = version;
    b.jar = jar;
    b.classesDirectory = classesDirectory;
    b.releaseDependencies.addAll(releaseDependencies);
    b.snapshotDependencies.addAll(snapshotDependencies);
    b.parameters.putAll(parameters);
    return b;
  }

  /** The name of the image asked for, one of the definition's {@link ImageDefinition#names()}. */
  public String name() {
    return name;
  }

  /**
   * The project's directory (the Maven project's base directory, or where a definition file is).
   */
  public Path projectDirectory() {
    return projectDirectory;
  }

  /** The project's version, such as {@code 1.4.0-SNAPSHOT}; empty when there is no project. */
  public Optional<String> version() {
    return Optional.ofNullable(version);
  }

  /** The project's built jar, when it was built. */
  public Optional<Path> jar() {
    return Optional.ofNullable(jar);
  }

  /**
   * The directory of the compiled classes and the processed resources (Maven's {@code
   * target/classes}).
   */
  public Optional<Path> classesDirectory() {
    return Optional.ofNullable(classesDirectory);
  }

  /** The runtime dependencies whose version is a release, in class path order. */
  public ImmutableList<Path> releaseDependencies() {
    return releaseDependencies;
  }

  /**
   * The runtime dependencies whose version is a snapshot (they change more often), in class path
   * order.
   */
  public ImmutableList<Path> snapshotDependencies() {
    return snapshotDependencies;
  }

  /** Every parameter, from the command line or the build's configuration. */
  public ImmutableMap<String, String> parameters() {
    return parameters;
  }

  /** The parameter {@code key}, if given. */
  public Optional<String> parameter(String key) {
    return Optional.ofNullable(parameters.get(key));
  }

  /** The parameter {@code key}, or {@code fallback} when it is not given. */
  public String parameter(String key, String fallback) {
    return parameters.getOrDefault(key, fallback);
  }

  /**
   * The class files under {@link #classesDirectory()}, by their path relative to it ({@code
   * /}-separated).
   */
  public ImmutableSortedMap<String, Path> classFiles() {
    return walk(true);
  }

  /**
   * The other files under {@link #classesDirectory()} (processed resources), by their relative
   * path.
   */
  public ImmutableSortedMap<String, Path> resourceFiles() {
    return walk(false);
  }

  private ImmutableSortedMap<String, Path> walk(boolean classes) {
    if (classesDirectory == null || !Files.isDirectory(classesDirectory)) {
      return ImmutableSortedMap.of();
    }
    TreeMap<String, Path> out = new TreeMap<>();
    try (Stream<Path> s = Files.walk(classesDirectory)) {
      s.filter(Files::isRegularFile)
          .forEach(
              p -> {
                String rel = classesDirectory.relativize(p).toString().replace('\\', '/');
                if (rel.endsWith(".class") == classes) {
                  out.put(rel, p);
                }
              });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + classesDirectory + ": " + e.getMessage(), e);
    }
    return ImmutableSortedMap.copyOf(out);
  }

  /**
   * {@code base} with the application on top, laid out under {@code appRoot} as Jib does, one layer
   * each, lowest first and empty ones left out: {@code dependencies} ({@code appRoot/libs/}),
   * {@code snapshot-dependencies} ({@code appRoot/libs/}), {@code resources} ({@code
   * appRoot/resources/}) and {@code classes} ({@code appRoot/classes/}). Files are 0644,
   * directories 0755, owned by 0:0. Run it with {@link #classpath(String)}.
   */
  public ImageBuild javaLayers(ImageBuild base, String appRoot) {
    String root = root(appRoot);
    ImageBuild b = base;
    Map<String, Path> libs = libraryNames();
    FilesLayer deps = Layer.files("dependencies");
    FilesLayer snaps = Layer.files("snapshot-dependencies");
    Set<Path> snapshot = new HashSet<>(snapshotDependencies);
    boolean anyDep = false;
    boolean anySnap = false;
    for (Map.Entry<String, Path> e : libs.entrySet()) {
      if (snapshot.contains(e.getValue())) {
        snaps = snaps.add(e.getValue(), root + "/libs/" + e.getKey(), 0644);
        anySnap = true;
      } else {
        deps = deps.add(e.getValue(), root + "/libs/" + e.getKey(), 0644);
        anyDep = true;
      }
    }
    if (anyDep) {
      b = b.layer(deps);
    }
    if (anySnap) {
      b = b.layer(snaps);
    }
    b = filesLayer(b, "resources", root + "/resources", resourceFiles());
    b = filesLayer(b, "classes", root + "/classes", classFiles());
    return b;
  }

  /**
   * The class path of {@link #javaLayers} under {@code appRoot}: resources, classes, then every
   * library.
   */
  public String classpath(String appRoot) {
    String root = root(appRoot);
    return root + "/resources:" + root + "/classes:" + root + "/libs/*";
  }

  /**
   * The dependencies' names under {@code libs/}: their file names, and for two with the same file
   * name, the later one prefixed with its position so that neither hides the other.
   */
  private Map<String, Path> libraryNames() {
    Map<String, Path> out = new LinkedHashMap<>();
    List<Path> all = new ArrayList<>(releaseDependencies);
    all.addAll(snapshotDependencies);
    for (int i = 0; i < all.size(); i++) {
      Path p = all.get(i);
      String n = p.getFileName().toString();
      if (out.containsKey(n)) {
        n = i + "-" + n;
      }
      out.put(n, p);
    }
    return out;
  }

  private static ImageBuild filesLayer(
      ImageBuild b, String name, String dir, Map<String, Path> files) {
    if (files.isEmpty()) {
      return b;
    }
    FilesLayer l = Layer.files(name).directory(dir, 0755);
    Set<String> dirs = new HashSet<>();
    for (Map.Entry<String, Path> e : files.entrySet()) {
      String rel = e.getKey();
      for (int i = rel.indexOf('/'); i >= 0; i = rel.indexOf('/', i + 1)) {
        String d = rel.substring(0, i);
        if (dirs.add(d)) {
          l = l.directory(dir + "/" + d, 0755);
        }
      }
      l = l.add(e.getValue(), dir + "/" + rel, 0644);
    }
    return b.layer(l);
  }

  private static String root(String appRoot) {
    checkArgument(
        appRoot != null && appRoot.startsWith("/") && appRoot.length() > 1,
        "the application root must be an absolute path in the image, such as /app: found %s",
        appRoot);
    return appRoot.endsWith("/") ? appRoot.substring(0, appRoot.length() - 1) : appRoot;
  }

  @Override
  public String toString() {
    return "DefinitionContext{"
        + name
        + ", "
        + projectDirectory
        + ", version "
        + version
        + ", jar "
        + jar
        + ", classes "
        + classesDirectory
        + ", "
        + releaseDependencies.size()
        + " release and "
        + snapshotDependencies.size()
        + " snapshot dependencies, parameters "
        + parameters.keySet()
        + "}";
  }

  /** Builds a {@link DefinitionContext}. Not thread-safe. */
  public static final class Builder {
    private String name = ImageDefinition.DEFAULT_NAME;
    private Path projectDirectory = Path.of("").toAbsolutePath();
    private String version;
    private Path jar;
    private Path classesDirectory;
    private final List<Path> releaseDependencies = new ArrayList<>();
    private final List<Path> snapshotDependencies = new ArrayList<>();
    private final Map<String, String> parameters = new LinkedHashMap<>();

    private Builder() {}

    /** The name of the image asked for. */
    public Builder name(String name) {
      checkArgument(name != null && !name.isBlank(), "an image definition name must not be empty");
      this.name = name;
      return this;
    }

    public Builder projectDirectory(Path dir) {
      this.projectDirectory =
          Objects.requireNonNull(dir, "projectDirectory").toAbsolutePath().normalize();
      return this;
    }

    public Builder version(String version) {
      this.version = version;
      return this;
    }

    public Builder jar(Path jar) {
      this.jar = jar == null ? null : jar.toAbsolutePath().normalize();
      return this;
    }

    public Builder classesDirectory(Path dir) {
      this.classesDirectory = dir == null ? null : dir.toAbsolutePath().normalize();
      return this;
    }

    /**
     * Adds a runtime dependency; a file whose name has {@code -SNAPSHOT} goes with the snapshots.
     */
    public Builder dependency(Path file) {
      Objects.requireNonNull(file, "dependency");
      return file.getFileName().toString().contains("-SNAPSHOT")
          ? snapshotDependency(file)
          : releaseDependency(file);
    }

    public Builder releaseDependency(Path file) {
      releaseDependencies.add(
          Objects.requireNonNull(file, "dependency").toAbsolutePath().normalize());
      return this;
    }

    public Builder snapshotDependency(Path file) {
      snapshotDependencies.add(
          Objects.requireNonNull(file, "dependency").toAbsolutePath().normalize());
      return this;
    }

    public Builder parameter(String key, String value) {
      checkArgument(key != null && !key.isEmpty(), "a parameter needs a name");
      parameters.put(key, Objects.requireNonNull(value, "value of parameter " + key));
      return this;
    }

    public Builder parameters(Map<String, String> params) {
      params.forEach(this::parameter);
      return this;
    }

    public DefinitionContext build() {
      return new DefinitionContext(this);
    }
  }
}
