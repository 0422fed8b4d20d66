package dev.kiln.sbom;

import dev.kiln.Digest;

/**
 * One thing an image holds, as the SBOMs list it: an OS package of its package database, a jar, or
 * a file a files layer added; with the layer that brought it. Fields that do not apply are empty
 * strings.
 *
 * @param type what it is
 * @param name the package name, the jar's artifactId (else its file name), or the file's path
 * @param group the Maven groupId of a jar
 * @param version the package or artifact version
 * @param arch the package's architecture
 * @param manager the package database it comes from ({@code deb}, {@code apk}, {@code rpm})
 * @param purl the package URL, when there is one
 * @param path where it is in the image ({@code /usr/share/java/x.jar}), for jars and files
 * @param sha256 the SHA-256 of a jar or file, hex
 * @param sha1 the SHA-1 of a file (SPDX requires it of files), hex
 * @param layer the name of the layer that brought it
 * @param diffId that layer's diffID
 */
record Component(
    Type type,
    String name,
    String group,
    String version,
    String arch,
    String manager,
    String purl,
    String path,
    String sha256,
    String sha1,
    String layer,
    Digest diffId) {

  /** What a component is. */
  enum Type {
    OS_PACKAGE,
    JAR,
    FILE
  }
}
