package dev.kiln.cli;

import dev.kiln.DefinitionException;
import dev.kiln.ImageDefinition;
import dev.kiln.ImageDefinitions;
import java.io.File;
import java.io.IOException;
import java.io.StringWriter;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/**
 * A definition file ({@code Images.java}): compiled with the JDK's compiler against Kiln's own
 * class path into a temporary directory, and its public {@link ImageDefinition} classes created.
 * Closing it removes the classes.
 */
final class DefinitionFile implements AutoCloseable {
  private final Path file;
  private final Path classes;
  private final URLClassLoader loader;
  private final List<ImageDefinition> definitions;

  private DefinitionFile(
      Path file, Path classes, URLClassLoader loader, List<ImageDefinition> definitions) {
    this.file = file;
    this.classes = classes;
    this.loader = loader;
    this.definitions = definitions;
  }

  /** Compiles {@code file} and creates its definitions. */
  static DefinitionFile compile(Path file) throws DefinitionException {
    Path f = file.toAbsolutePath().normalize();
    if (!Files.isRegularFile(f)) {
      throw new DefinitionException(
          "definition file "
              + file
              + " not found"
              + (Files.isDirectory(f) ? " (it is a directory)" : ""));
    }
    if (!f.getFileName().toString().endsWith(".java")) {
      throw new DefinitionException("definition file " + file + " is not a .java source file");
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    if (javac == null) {
      throw new DefinitionException(
          "cannot compile "
              + file
              + ": this Java ("
              + System.getProperty("java.home")
              + ") has no compiler; run kiln with a JDK 17 or later (JAVA_HOME)");
    }
    Path classes;
    try {
      classes = Files.createTempDirectory("kiln-definition-");
    } catch (IOException e) {
      throw new DefinitionException(
          "cannot create a directory to compile " + file + " into: " + e.getMessage(), e);
    }
    boolean ok = false;
    try {
      compile(javac, f, classes);
      URLClassLoader loader =
          new URLClassLoader(
              "kiln-definition",
              new URL[] {classes.toUri().toURL()},
              DefinitionFile.class.getClassLoader());
      List<ImageDefinition> defs = new ArrayList<>();
      try {
        for (String name : classNames(classes)) {
          Class<?> c = Class.forName(name, false, loader);
          if (ImageDefinition.class.isAssignableFrom(c)
              && Modifier.isPublic(c.getModifiers())
              && !Modifier.isAbstract(c.getModifiers())
              && !c.isInterface()
              && (c.getEnclosingClass() == null || Modifier.isStatic(c.getModifiers()))) {
            defs.add(ImageDefinitions.load(name, loader));
          }
        }
      } catch (ClassNotFoundException | LinkageError e) {
        loader.close();
        throw new DefinitionException("cannot load the classes of " + file + ": " + e, e);
      } catch (DefinitionException e) {
        loader.close();
        throw e;
      }
      if (defs.isEmpty()) {
        loader.close();
        throw new DefinitionException(
            file
                + " defines no image: it needs a public class that implements "
                + ImageDefinition.class.getName()
                + ", with a public no-argument constructor");
      }
      ok = true;
      return new DefinitionFile(f, classes, loader, List.copyOf(defs));
    } catch (IOException e) {
      throw new DefinitionException("cannot compile " + file + ": " + e.getMessage(), e);
    } finally {
      if (!ok) {
        deleteTree(classes);
      }
    }
  }

  private static void compile(JavaCompiler javac, Path f, Path classes)
      throws IOException, DefinitionException {
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    try (StandardJavaFileManager fm =
        javac.getStandardFileManager(diagnostics, Locale.ROOT, StandardCharsets.UTF_8)) {
      List<String> options =
          List.of(
              "-d",
              classes.toString(),
              "-classpath",
              classPath(),
              "-proc:none",
              "-implicit:none",
              "-encoding",
              "UTF-8",
              "-nowarn");
      StringWriter javacOut = new StringWriter();
      boolean ok =
          javac.getTask(javacOut, fm, diagnostics, options, null, fm.getJavaFileObjects(f)).call();
      if (!ok) {
        List<Diagnostic<? extends JavaFileObject>> errors =
            diagnostics.getDiagnostics().stream()
                .filter(d -> d.getKind() == Diagnostic.Kind.ERROR)
                .toList();
        if (errors.isEmpty()) {
          throw new DefinitionException(
              f.getFileName() + " does not compile: " + javacOut.toString().strip());
        }
        Diagnostic<? extends JavaFileObject> d = errors.get(0);
        String where = f.getFileName() + (d.getLineNumber() > 0 ? ":" + d.getLineNumber() : "");
        throw new DefinitionException(
            where
                + ": does not compile: "
                + d.getMessage(Locale.ROOT)
                + (errors.size() > 1 ? " (and " + (errors.size() - 1) + " more errors)" : ""));
      }
    }
  }

  /**
   * The class path a definition compiles against: the one Kiln runs with (the distribution's
   * lib/*.jar).
   */
  private static String classPath() {
    List<String> out = new ArrayList<>();
    for (String e : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
      if (e.endsWith("*")) {
        Path dir = Path.of(e.substring(0, e.length() - 1));
        try (Stream<Path> s = Files.list(dir.toString().isEmpty() ? Path.of(".") : dir)) {
          s.filter(p -> p.toString().endsWith(".jar")).sorted().forEach(p -> out.add(p.toString()));
        } catch (IOException ex) {
          // an entry that is not there adds nothing, as for the JVM
        }
      } else if (!e.isEmpty()) {
        out.add(e);
      }
    }
    return String.join(File.pathSeparator, out);
  }

  private static List<String> classNames(Path classes) throws IOException {
    try (Stream<Path> s = Files.walk(classes)) {
      return s.filter(p -> p.toString().endsWith(".class"))
          .map(p -> classes.relativize(p).toString())
          .map(r -> r.substring(0, r.length() - ".class".length()).replace(File.separatorChar, '.'))
          .sorted()
          .toList();
    }
  }

  Path file() {
    return file;
  }

  /**
   * The directory of the file: what relative paths of a definition's context are resolved against.
   */
  Path directory() {
    return file.getParent();
  }

  List<ImageDefinition> definitions() {
    return definitions;
  }

  @Override
  public void close() throws IOException {
    try {
      loader.close();
    } finally {
      deleteTree(classes);
    }
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a temp directory left behind is removed with the others
    }
  }
}
