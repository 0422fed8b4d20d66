package dev.kiln;

import java.lang.reflect.InvocationTargetException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;

/**
 * Finds {@link ImageDefinition}s and runs them, with the one-line errors a build tool or a command
 * line shows: what the Maven plugin and the {@code kiln} command line share.
 */
public final class ImageDefinitions {
  private ImageDefinitions() {}

  /**
   * The definitions {@code META-INF/services/dev.kiln.ImageDefinition} lists on {@code loader}'s
   * class path.
   *
   * @throws DefinitionException when there is none, or one cannot be loaded or created
   */
  public static List<ImageDefinition> discover(ClassLoader loader) throws DefinitionException {
    List<ImageDefinition> out = new ArrayList<>();
    try {
      for (ImageDefinition d : ServiceLoader.load(ImageDefinition.class, loader)) {
        out.add(d);
      }
    } catch (ServiceConfigurationError e) {
      throw new DefinitionException(
          "cannot load an image definition listed in META-INF/services/"
              + ImageDefinition.class.getName()
              + ": "
              + oneLine(e),
          e);
    }
    if (out.isEmpty()) {
      throw new DefinitionException(
          "no image definition found: implement "
              + ImageDefinition.class.getName()
              + " and list the class in META-INF/services/"
              + ImageDefinition.class.getName()
              + ", or name it (the Maven plugin's <definition>)");
    }
    return out;
  }

  /**
   * Creates the definition {@code className} with its public no-argument constructor.
   *
   * @throws DefinitionException when the class is missing, is not an {@link ImageDefinition} or
   *     cannot be created
   */
  public static ImageDefinition load(String className, ClassLoader loader)
      throws DefinitionException {
    if (className == null || className.isBlank()) {
      throw new DefinitionException("the image definition class name is empty");
    }
    Class<?> c;
    try {
      c = Class.forName(className.strip(), true, loader);
    } catch (ClassNotFoundException | LinkageError e) {
      throw new DefinitionException(
          "image definition "
              + className
              + " not found on the project's class path"
              + " (is it compiled, in src/main/java or src/test/java?): "
              + oneLine(e),
          e);
    }
    if (!ImageDefinition.class.isAssignableFrom(c)) {
      throw new DefinitionException(
          "image definition "
              + className
              + " does not implement "
              + ImageDefinition.class.getName());
    }
    try {
      return (ImageDefinition) c.getConstructor().newInstance();
    } catch (InvocationTargetException e) {
      throw new DefinitionException(
          "image definition " + className + " failed in its constructor: " + oneLine(e.getCause()),
          e.getCause());
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new DefinitionException(
          "image definition "
              + className
              + " needs a public no-argument constructor: "
              + oneLine(e),
          e);
    }
  }

  /**
   * Runs {@code definitions} with {@code ctx}: each of their {@link ImageDefinition#names()} (or
   * only those in {@code only}, when not empty), by name in the order given.
   *
   * @throws DefinitionException when a definition throws or returns null, two define the same name,
   *     or a name in {@code only} is defined by none
   */
  public static Map<String, ImageBuild> define(
      Collection<ImageDefinition> definitions, DefinitionContext ctx, Set<String> only)
      throws DefinitionException {
    Map<String, ImageBuild> out = new LinkedHashMap<>();
    Map<String, String> by = new LinkedHashMap<>();
    Set<String> known = new TreeSet<>();
    for (ImageDefinition d : definitions) {
      String cls = d.getClass().getName();
      Set<String> names;
      try {
        names = d.names();
      } catch (RuntimeException e) {
        throw new DefinitionException(
            "image definition " + cls + " failed to list its names: " + oneLine(e), e);
      }
      if (names == null || names.isEmpty()) {
        throw new DefinitionException(
            "image definition " + cls + " defines no image: names() is empty");
      }
      for (String name : new TreeSet<>(names)) {
        known.add(name);
        if (by.containsKey(name)) {
          throw new DefinitionException(
              "image '" + name + "' is defined twice, by " + by.get(name) + " and " + cls);
        }
        by.put(name, cls);
        if (!only.isEmpty() && !only.contains(name)) {
          continue;
        }
        ImageBuild b;
        try {
          b = d.define(ctx.name(name));
        } catch (Exception | LinkageError e) {
          throw new DefinitionException(
              "image definition " + cls + " failed to define '" + name + "': " + oneLine(e), e);
        }
        if (b == null) {
          throw new DefinitionException(
              "image definition " + cls + " returned no build for '" + name + "'");
        }
        out.put(name, b);
      }
    }
    for (String n : only) {
      if (!known.contains(n)) {
        throw new DefinitionException(
            "no image definition defines '" + n + "'; defined: " + String.join(", ", known));
      }
    }
    return out;
  }

  private static String oneLine(Throwable e) {
    if (e == null) {
      return "unknown error";
    }
    String m = e.getMessage();
    String s = e.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + m);
    return s.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
  }
}
