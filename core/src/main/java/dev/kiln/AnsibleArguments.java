package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Checks what an {@link AnsibleLayer} is given — paths, tags, inventory groups, variables — and
 * copies it into immutable values, so that a layer refuses bad input when it is defined, not when
 * the play runs.
 */
final class AnsibleArguments {
  private static final Pattern VAR = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  private static final Pattern GROUP = Pattern.compile("[A-Za-z_][A-Za-z0-9_-]*");

  /**
   * Inventory variables every provisioner sets itself: how Ansible reaches the image. A provisioner
   * may reserve more (the Docker one: its connection plugin's and the temporary directories').
   */
  private static final Pattern RESERVED = Pattern.compile("ansible_(connection|host)");

  private AnsibleArguments() {}

  /** The paths, absolute and normalized. */
  static List<Path> absolute(Path[] paths) {
    return Arrays.stream(paths)
        .map(p -> Objects.requireNonNull(p, "path").toAbsolutePath().normalize())
        .toList();
  }

  /** The tags, each non-empty and without ','. */
  static List<String> tags(String[] tags) {
    Objects.requireNonNull(tags, "tags");
    for (String t : tags) {
      checkArgument(
          t != null && !t.isBlank() && !t.contains(","),
          "bad tag '%s': tags are non-empty and have no ','",
          t);
    }
    return List.of(tags);
  }

  /** The inventory group names, none of them Ansible's own {@code all} or {@code ungrouped}. */
  static List<String> groups(String[] groups) {
    Objects.requireNonNull(groups, "groups");
    for (String g : groups) {
      checkArgument(
          g != null && GROUP.matcher(g).matches() && !g.equals("all") && !g.equals("ungrouped"),
          "bad inventory group name '%s': use letters, digits, '_', '-', not 'all' or 'ungrouped'",
          g);
    }
    return List.of(groups);
  }

  /**
   * {@code old} with {@code vars} set over it, in the order first set; {@code inventory}: inventory
   * variables, which must not be those that connect Ansible to the image.
   */
  static ImmutableMap<String, Object> merge(
      Map<String, Object> old, Map<String, ?> vars, boolean inventory) {
    Objects.requireNonNull(vars, "vars");
    Map<String, Object> m = new LinkedHashMap<>(old);
    for (Map.Entry<String, ?> e : vars.entrySet()) {
      String k = e.getKey();
      checkArgument(k != null && VAR.matcher(k).matches(), "bad variable name '%s'", k);
      checkArgument(
          !inventory || !RESERVED.matcher(k).matches(),
          "inventory variable '%s' is set by Kiln (it connects Ansible to the image)",
          k);
      m.put(k, value(k, e.getValue()));
    }
    return ImmutableMap.copyOf(m);
  }

  /**
   * An immutable copy of a variable's value: strings, numbers, booleans, lists and string-keyed
   * maps of them.
   */
  private static Object value(String name, Object v) {
    if (v instanceof String
        || v instanceof Boolean
        || v instanceof Integer
        || v instanceof Long
        || v instanceof Short
        || v instanceof Byte
        || v instanceof BigInteger
        || v instanceof BigDecimal) {
      return v;
    }
    if (v instanceof Double d) {
      checkArgument(Double.isFinite(d), "variable '%s' is not a finite number", name);
      return v;
    }
    if (v instanceof Float f) {
      checkArgument(Float.isFinite(f), "variable '%s' is not a finite number", name);
      return v;
    }
    if (v instanceof List<?> list) {
      return list.stream().map(x -> value(name, x)).collect(ImmutableList.toImmutableList());
    }
    if (v instanceof Map<?, ?> map) {
      ImmutableMap.Builder<String, Object> b = ImmutableMap.builder();
      for (Map.Entry<?, ?> e : map.entrySet()) {
        checkArgument(
            e.getKey() instanceof String,
            "variable '%s' has a map with a key that is not a string",
            name);
        b.put((String) e.getKey(), value(name, e.getValue()));
      }
      return b.buildOrThrow();
    }
    throw new IllegalArgumentException(
        "variable '"
            + name
            + "' has a value Ansible cannot take: "
            + (v == null ? "null" : v.getClass().getName())
            + " (use strings, numbers, booleans, lists and maps)");
  }
}
