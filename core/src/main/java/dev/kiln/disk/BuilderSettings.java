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
 */
record BuilderSettings(
    DiskOptions options,
    HostTools tools,
    LayerOpener opener,
    Path workDirectory,
    boolean durable,
    boolean fullCopy) {

  /** The settings of {@link DiskBuilder#create(DiskOptions)}. */
  static BuilderSettings of(DiskOptions options) {
    return new BuilderSettings(options, HostTools.system(), LayerReader::of, null, false, false);
  }

  BuilderSettings with(HostTools tools, LayerOpener opener) {
    return new BuilderSettings(options, tools, opener, workDirectory, durable, fullCopy);
  }

  BuilderSettings withWorkDirectory(Path dir) {
    return new BuilderSettings(options, tools, opener, dir, durable, fullCopy);
  }

  BuilderSettings withDurable(boolean on) {
    return new BuilderSettings(options, tools, opener, workDirectory, on, fullCopy);
  }

  BuilderSettings withFullCopy(boolean on) {
    return new BuilderSettings(options, tools, opener, workDirectory, durable, on);
  }
}
