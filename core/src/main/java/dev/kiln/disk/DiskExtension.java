package dev.kiln.disk;

import dev.kiln.spi.LayerReader;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link DiskBuilder#extend}: more layers applied to a copy of a base disk, in place. The base disk
 * is copied next to the output in the background while its root file system's metadata is copied to
 * a scratch file ({@link MetadataCopy}; the whole disk when that cannot be done) and the layers are
 * planned against the base disk ({@link ExtendPlan}); one {@code debugfs -w} session applies the
 * plan to the scratch file, the times are pinned in Java, the ESP is rebuilt only if the boot
 * configuration changed, and the blocks that changed are carried over to the copy, which is moved
 * onto the output.
 */
final class DiskExtension {
  private static final Logger log = LoggerFactory.getLogger(DiskBuilder.class);

  private final DiskOptions options;
  private final HostTools tools;
  private final BuilderSettings settings;

  DiskExtension(BuilderSettings settings) {
    this.settings = settings;
    this.options = settings.options();
    this.tools = settings.tools();
  }

  DiskImage run(Path baseDisk, List<Path> moreLayers, Path out) throws IOException, DiskException {
    DiskImage base = DiskImage.read(baseDisk);
    Path work = ScratchSpace.workDir(out);
    Path scratch = null;
    BackgroundWork background = new BackgroundWork();
    Steps steps = new Steps();
    try {
      Path result = work.resolve("disk.img");
      CopyOut copyOut = new CopyOut(tools);
      ExtendPlan plan;
      Optional<Kernel> kernel;
      boolean newBootLoader = false;
      Future<byte[]> esp = null;
      Future<HostTools.Result> copied;
      Path disk;
      MetadataCopy metadata;
      BootArchitecture arch = settings.arch();
      BootArchitecture baseArch = DiskImage.architecture(baseDisk);
      if (baseArch != arch) {
        throw new DiskException(
            "the base disk "
                + baseDisk
                + " is a "
                + baseArch.platform()
                + " disk, but this builder makes "
                + arch.platform()
                + " disks: extend a base disk of the image's own platform");
      }
      DiskLayout l = DiskLayout.of(base, arch);
      try (FileChannel baseCh = FileChannel.open(baseDisk, StandardOpenOption.READ)) {
        Ext4Inodes fs = new Ext4Inodes(baseCh, base.rootOffset());
        long free = fs.freeBytes();
        long layerBytes = 0;
        for (Path layer : moreLayers) {
          layerBytes += Files.size(layer);
        }
        Ext4Blocks blocks = new Ext4Blocks(fs);
        metadata = settings.fullCopy() ? null : MetadataCopy.of(fs, blocks);
        long inUse =
            metadata != null ? metadata.bytes() : (fs.blocksCount - fs.freeBlocks) * fs.blockSize;
        scratch =
            ScratchSpace.scratchDir(
                settings.workDirectory(), work, inUse + 5 * layerBytes + base.espSize());
        disk = scratch.resolve("scratch.img");
        // with a metadata copy, the base disk is copied to the result; else to the scratch disk
        copied = copyOut.start(background, baseDisk, metadata != null ? result : disk, true);
        if (metadata != null) {
          long metaBytes = metadata.writeTo(disk, base.size());
          steps.mark("metadata copy (" + (metaBytes >> 20) + " MiB)");
        }
        Ext4Tree tree = new Ext4Tree(new Ext4Dirs(fs));
        plan = plan(tree, scratch, moreLayers);
        long need = plan.bytes() + plan.bytes() / 50 + 8 * DiskOptions.MIB;
        if (need > free) {
          throw new DiskException(
              "the layers add "
                  + DiskBuilder.human(plan.bytes())
                  + " but the base disk "
                  + baseDisk
                  + " has only "
                  + DiskBuilder.human(free)
                  + " free in its root file system: build the base disk with more free space"
                  + " (DiskOptions.freeSpace) or a larger size (DiskOptions.size)");
        }
        // the tree now shows the file system as the plan leaves it
        kernel = Kernel.find(tree);
        if (kernel.isEmpty() && options.requireKernel()) {
          throw new DiskException(
              "no kernel found in the image (/boot/vmlinuz-* or the /vmlinuz link) after applying "
                  + moreLayers
                  + ": add a layer that installs one (on Debian: "
                  + arch.kernelPackage()
                  + "), or build a data disk"
                  + " with DiskOptions.dataOnly(true)");
        }
        if (metadata != null) {
          metadata.addRemoved(plan.removedFiles(), baseDisk);
        }
        steps.mark("plan");
        if (kernel.isPresent()) {
          newBootLoader = !Esp.boots(baseCh, base, kernel.get(), options, arch);
          if (newBootLoader) {
            tools.require(arch, "grub-mkimage");
            Path tmpDir = scratch;
            esp = background.submit(() -> Esp.image(options, arch, tools, kernel, l, tmpDir));
          }
        }
        steps.mark("boot check");
      }
      if (metadata == null) {
        BackgroundWork.get(copied);
        steps.mark("copy wait");
      }
      new Debugfs(tools, disk, base.rootOffset(), scratch, Mke2fs.env(options.timestamp()))
          .run(plan.commands(), true);
      steps.mark("debugfs");
      try (FileChannel ch =
          FileChannel.open(disk, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
        new Ext4Inodes(ch, base.rootOffset()).pinTimes(options.timestamp());
        SuperblockTimes.pin(ch, base.rootOffset(), options.timestamp());
        steps.mark("inodes");
        if (metadata == null && esp != null) {
          DiskFiles.writeChanged(ch, BackgroundWork.get(esp), base.espOffset());
          steps.mark("esp");
        }
      }
      if (metadata != null) {
        BackgroundWork.get(copied);
        steps.mark("copy wait");
        try (FileChannel baseCh = FileChannel.open(baseDisk, StandardOpenOption.READ);
            FileChannel sc = FileChannel.open(disk, StandardOpenOption.READ);
            FileChannel rc =
                FileChannel.open(result, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
          long n = metadata.carryOver(baseCh, sc, rc, base.rootOffset());
          if (esp != null) {
            DiskFiles.writeChanged(rc, BackgroundWork.get(esp), base.espOffset());
          }
          steps.mark("carry over " + n + " blocks");
        }
        Files.delete(disk);
      } else {
        copyOut.finish(disk, result, steps);
      }
      if (settings.durable()) {
        CopyOut.flush(result);
        steps.mark("fsync");
      }
      CopyOut.moveOnto(result, out);
      steps.mark("move");
      log.info(
          "extended {} into {} with {} layer(s), {} of files, {}, {} in {}: {}",
          baseDisk,
          out,
          moreLayers.size(),
          DiskBuilder.human(plan.bytes()),
          newBootLoader ? "new boot loader" : "ESP kept",
          metadata != null ? "metadata copy" : "full copy",
          scratch.getParent(),
          steps);
      return l.image(out, kernel);
    } finally {
      background.shutdown();
      ScratchSpace.delete(scratch, work);
    }
  }

  /** Reads the layers, lowest first, and plans them against {@code tree}. */
  private ExtendPlan plan(Ext4Tree tree, Path scratch, List<Path> moreLayers)
      throws IOException, DiskException {
    ExtendPlan plan = new ExtendPlan(tree, Files.createDirectory(scratch.resolve("spool")));
    for (Path layer : moreLayers) {
      try (LayerReader r = settings.opener().open(layer)) {
        plan.addLayer(r, layer.getFileName().toString());
      }
    }
    return plan;
  }
}
