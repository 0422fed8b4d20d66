package dev.kiln.vmware;

import com.google.common.collect.ImmutableList;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/** The files of an OVF package to publish, from a directory or read out of an OVA. */
abstract class OvfSource {
  /** A file's name in the package and its size. */
  record Entry(String name, long size) {}

  abstract String label();

  /** The files in package order; the first is the descriptor. */
  abstract List<Entry> entries();

  /** The descriptor's text. */
  abstract String descriptor() throws IOException;

  /** Opens one file for reading; the caller closes the stream. */
  abstract InputStream open(Entry entry) throws IOException;

  Entry entry(String name) throws IOException {
    for (Entry e : entries()) {
      if (e.name().equals(name)) {
        return e;
      }
    }
    throw new IOException(label() + " has no file " + name + " (it holds " + entries() + ")");
  }

  static OvfSource of(OvfFiles files) {
    return new OvfSource() {
      @Override
      String label() {
        return "OVF package " + files.directory();
      }

      @Override
      List<Entry> entries() {
        return files.files().stream().map(f -> new Entry(f.name(), f.size())).toList();
      }

      @Override
      String descriptor() throws IOException {
        return Files.readString(files.path(files.descriptor()), StandardCharsets.UTF_8);
      }

      @Override
      InputStream open(Entry entry) throws IOException {
        return Files.newInputStream(files.directory().resolve(entry.name()));
      }
    };
  }

  /** An OVA: the tar is scanned once for its listing and again for each file opened. */
  static OvfSource ova(Path ova) throws IOException {
    List<Entry> entries = new ArrayList<>();
    String descriptor = null;
    try (TarArchiveInputStream tar =
        new TarArchiveInputStream(new BufferedInputStream(Files.newInputStream(ova)))) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        if (!e.isFile()) {
          continue;
        }
        entries.add(new Entry(e.getName(), e.getSize()));
        if (descriptor == null) {
          if (!e.getName().endsWith(".ovf")) {
            throw new IOException(
                ova + " is not an OVA: its first file is " + e.getName() + ", expected NAME.ovf");
          }
          descriptor = new String(tar.readAllBytes(), StandardCharsets.UTF_8);
        }
      }
    }
    if (descriptor == null) {
      throw new IOException(ova + " is not an OVA: it holds no files");
    }
    String text = descriptor;
    List<Entry> listing = ImmutableList.copyOf(entries);
    return new OvfSource() {
      @Override
      String label() {
        return "OVA " + ova;
      }

      @Override
      List<Entry> entries() {
        return listing;
      }

      @Override
      String descriptor() {
        return text;
      }

      @Override
      InputStream open(Entry entry) throws IOException {
        TarArchiveInputStream tar =
            new TarArchiveInputStream(new BufferedInputStream(Files.newInputStream(ova), 1 << 20));
        try {
          TarArchiveEntry e;
          while ((e = tar.getNextEntry()) != null) {
            if (e.getName().equals(entry.name())) {
              return new FilterInputStream(
                  tar) {}; // reads stop at the entry's end; close closes the file
            }
          }
        } catch (IOException | RuntimeException ex) {
          tar.close();
          throw ex;
        }
        tar.close();
        throw new IOException(ova + " has no file " + entry.name());
      }
    };
  }
}
