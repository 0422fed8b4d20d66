package dev.kiln.disk;

import dev.kiln.spi.LayerReader;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link DiskBuilder#build(List, Path)}: a disk from its layers, from scratch. The layers are
 * unpacked into a staging directory while another thread hashes them for the identifiers' seed;
 * {@code mke2fs -d} (no fakeroot) writes the ext4 into a scratch disk file while another thread
 * builds the ESP; the ESP and the GPT are written; then, while the staging directory is deleted and
 * the scratch disk is copied sparsely next to the output, Java walks the new file system, writes
 * the declared owners, modes and device numbers into its inodes and pins every inode's times; last
 * the blocks that pass changed are written over the copy, which is moved onto the output.
 */
final class FullBuild {
  private static final Logger log = LoggerFactory.getLogger(DiskBuilder.class);

  private final DiskOptions options;
  private final BootArchitecture arch;
  private final HostTools tools;
  private final BuilderSettings settings;

  FullBuild(BuilderSettings settings) {
    this.settings = settings;
    this.options = settings.options();
    this.arch = settings.arch();
    this.tools = settings.tools();
  }

  DiskImage run(List<Path> layers, Path out) throws IOException, DiskException {
    Path work = ScratchSpace.workDir(out);
    Path scratch = null;
    Staging staging = null;
    BackgroundWork background = new BackgroundWork();
    Steps steps = new Steps();
    try {
      scratch =
          ScratchSpace.scratchDir(
              settings.workDirectory(), work, 2 * ScratchSpace.estimatedContent(layers));
      Future<List<String>> layerHashes = background.submit(() -> DiskLayout.sha256s(layers));
      staging = new Staging(scratch.resolve("root"));
      stage(layers, staging);
      steps.mark("stage");
      Optional<Kernel> kernel = Kernel.find(staging);
      if (kernel.isEmpty() && options.requireKernel()) {
        throw new DiskException(
            "no kernel found in the image (/boot/vmlinuz-* or the /vmlinuz link): add a layer that installs one"
                + " (on Debian: "
                + arch.kernelPackage()
                + "), or build a data disk with DiskOptions.dataOnly(true)");
      }
      if (kernel.isPresent()) {
        kernel.get().checkArchitecture(staging, arch);
        tools.require(arch, "grub-mkimage");
      }
      long size = DiskSize.of(staging, options);
      DiskLayout l =
          DiskLayout.of(
              size, DiskLayout.seed(BackgroundWork.get(layerHashes), options, arch), options, arch);
      steps.mark("hash");
      Path tmpDir = scratch;
      Future<byte[]> esp =
          background.submit(() -> Esp.image(options, arch, tools, kernel, l, tmpDir));
      Path disk = scratch.resolve("scratch.img");
      try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
        f.setLength(size);
      }
      Mke2fs.run(
          tools, options.timestamp(), disk, l, staging.root(), scratch, staging.entries().size());
      steps.mark("mke2fs");
      Staging staged = staging;
      Future<?> deleted =
          background.submit(
              () -> {
                staged.delete();
                return null;
              });
      try (FileChannel ch =
          FileChannel.open(disk, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
        DiskFiles.writeNonZero(ch, BackgroundWork.get(esp), l.esp().offset());
        l.gpt().write(ch);
      }
      steps.mark("esp+gpt");
      List<String> xattrCmds = DeclaredMetadata.xattrCommands(staging, scratch);
      if (!xattrCmds.isEmpty()) {
        new Debugfs(tools, disk, l.root().offset(), scratch, Mke2fs.env(options.timestamp()))
            .run(xattrCmds, true);
        steps.mark("xattrs");
      }
      // the copy next to the output starts now; what the inode pass changes afterwards is carried
      // over to it
      Path result = work.resolve("disk.img");
      boolean inPlace = disk.getParent().equals(result.getParent());
      CopyOut copyOut = new CopyOut(tools);
      Future<HostTools.Result> copied =
          inPlace ? null : copyOut.start(background, disk, result, false);
      List<long[]> written = inodePass(disk, l, staging, steps);
      if (inPlace) {
        Files.move(disk, result, StandardCopyOption.ATOMIC_MOVE);
      } else {
        BackgroundWork.get(copied);
        steps.mark("copy out");
        CopyOut.carryOver(disk, result, written);
        Files.delete(disk);
        steps.mark("carry over " + written.size() + " blocks");
      }
      if (settings.durable()) {
        CopyOut.flush(result);
        steps.mark("fsync");
      }
      BackgroundWork.get(deleted);
      CopyOut.moveOnto(result, out);
      steps.mark("cleanup");
      log.info(
          "built {} ({}, {} entries, scratch in {}): {}",
          out,
          DiskBuilder.human(size),
          staging.entries().size(),
          scratch.getParent(),
          steps);
      return l.image(out, kernel);
    } finally {
      if (staging != null) {
        staging.abandon();
      }
      background.shutdown();
      ScratchSpace.delete(scratch, work);
    }
  }

  /** Unpacks the layers, lowest first, into {@code staging} and waits for the host tree. */
  private void stage(List<Path> layers, Staging staging) throws IOException {
    for (Path layer : layers) {
      try (LayerReader r = settings.opener().open(layer)) {
        staging.apply(r, layer.getFileName().toString());
      }
    }
    staging.finish();
  }

  /**
   * Writes the declared owners, modes and device numbers into the inodes of the new file system,
   * pins every inode's times and the superblock's, and returns the byte ranges it changed.
   */
  private List<long[]> inodePass(Path disk, DiskLayout l, Staging staging, Steps steps)
      throws IOException, DiskException {
    List<long[]> written = new ArrayList<>();
    try (FileChannel ch =
        FileChannel.open(disk, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      Ext4Inodes fs = new Ext4Inodes(ch, l.root().offset());
      Map<Long, Ext4Inodes.Patch> patches =
          DeclaredMetadata.inodePatches(new Ext4Dirs(fs), staging, written);
      steps.mark("walk");
      fs.pinTimes(options.timestamp(), patches, written);
      if (SuperblockTimes.pin(ch, l.root().offset(), options.timestamp())) {
        written.add(new long[] {l.root().offset() + 1024, 1024});
      }
      steps.mark("inodes");
    }
    return written;
  }
}
