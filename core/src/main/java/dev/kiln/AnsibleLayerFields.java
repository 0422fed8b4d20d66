package dev.kiln;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSortedSet;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The values of an {@link AnsibleLayer}, and what makes two layers equal. Each method of the layer
 * changes a {@link #copy()} and hands it to a new layer; a layer's own fields never change after.
 */
final class AnsibleLayerFields {
  String name;
  Path playbook;
  ImmutableList<Path> roles = ImmutableList.of();
  ImmutableList<Path> includes = ImmutableList.of();
  ImmutableMap<String, Object> inventoryVars = ImmutableMap.of();
  ImmutableMap<String, Object> extraVars = ImmutableMap.of();
  ImmutableSortedSet<String> tags = ImmutableSortedSet.of();
  ImmutableSortedSet<String> skipTags = ImmutableSortedSet.of();
  String limit;
  Path vaultPasswordFile;
  ImmutableSortedSet<String> groups = ImmutableSortedSet.of();
  boolean check;
  RunConditions conditions = RunConditions.DEFAULT;

  /** A copy to change. */
  AnsibleLayerFields copy() {
    AnsibleLayerFields v = new AnsibleLayerFields();
    v.name = name;
    v.playbook = playbook;
    v.roles = roles;
    v.includes = includes;
    v.inventoryVars = inventoryVars;
    v.extraVars = extraVars;
    v.tags = tags;
    v.skipTags = skipTags;
    v.limit = limit;
    v.vaultPasswordFile = vaultPasswordFile;
    v.groups = groups;
    v.check = check;
    v.conditions = conditions;
    return v;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AnsibleLayerFields a
        && name.equals(a.name)
        && playbook.equals(a.playbook)
        && roles.equals(a.roles)
        && includes.equals(a.includes)
        && inventoryVars.equals(a.inventoryVars)
        && extraVars.equals(a.extraVars)
        && tags.equals(a.tags)
        && skipTags.equals(a.skipTags)
        && Objects.equals(limit, a.limit)
        && Objects.equals(vaultPasswordFile, a.vaultPasswordFile)
        && groups.equals(a.groups)
        && check == a.check
        && conditions.equals(a.conditions);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        name,
        playbook,
        roles,
        includes,
        inventoryVars,
        extraVars,
        tags,
        skipTags,
        limit,
        vaultPasswordFile,
        groups,
        check,
        conditions.timeout(),
        conditions.network());
  }
}
