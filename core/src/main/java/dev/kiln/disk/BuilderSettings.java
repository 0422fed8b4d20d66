package dev.kiln.disk;

import dev.kiln.spi.LayerReader;
import java.nio.file.Path;

/**
 * What a {@link DiskBuilder} is configured with, handed to the {@link FullBuild} and {@link
 * DiskExtension} it runs.
 *
 * @param workDirectory where scratch work goes ({@link DiskBuilder#workDirectory}), or null to
 *     choose
 * @param durable whether the disk is flushed before it is moved into place
 * @param fullCopy extend on a full copy of the base disk instead of a metadata copy (tests compare
 *     the two)
 * @param arch the architecture of the disks ({@link DiskBuilder#forPlatform})
 */
record BuilderSettings(
    DiskOptions options,
    BootArchitecture arch,
    HostTools tools,
    LayerOpener opener,
    Path workDirectory,
    boolean durable,
    boolean fullCopy) {

  /** The settings of {@link DiskBuilder#create(DiskOptions)}. */
  static BuilderSettings of(DiskOptions options) {
    return new BuilderSettings(
        options, BootArchitecture.X86_64, HostTools.system(), LayerReader::of, null, false, false);
  }

  BuilderSettings with(HostTools tools, LayerOpener opener) {
    return new BuilderSettings(options, arch, tools, opener, workDirectory, durable, fullCopy);
  }

  BuilderSettings withWorkDirectory(Path dir) {
    return new BuilderSettings(options, arch, tools, opener, dir, durable, fullCopy);
  }

  BuilderSettings withDurable(boolean on) {
    return new BuilderSettings(options, arch, tools, opener, workDirectory, on, fullCopy);
  }

  BuilderSettings withArch(BootArchitecture a) {
    return new BuilderSettings(options, a, tools, opener, workDirectory, durable, fullCopy);
  }

  BuilderSettings withFullCopy(boolean on) {
    return new BuilderSettings(options, arch, tools, opener, workDirectory, durable, on);
  }
}
