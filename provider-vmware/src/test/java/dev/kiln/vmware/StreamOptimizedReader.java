package dev.kiln.vmware;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A test-side reader of streamOptimized VMDKs that checks the layout VMware's specification
 * describes, independently of the writer: header, embedded descriptor, the marker stream from the
 * first grain to the end-of-stream marker, the footer, and the grain directory and tables it points
 * to.
 */
final class StreamOptimizedReader implements AutoCloseable {
  static final int SECTOR = 512;

  record Header(
      int magic,
      int version,
      int flags,
      long capacity,
      long grainSize,
      long descriptorOffset,
      long descriptorSize,
      int gtesPerGt,
      long rgdOffset,
      long gdOffset,
      long overhead,
      byte[] newlineChars,
      int compressAlgorithm) {}

  /** One item of the marker stream. */
  record Item(String kind, long sector, long value) {}

  private final FileChannel ch;
  final Header header;
  final Header footer;
  final String descriptor;
  final List<Item> stream = new ArrayList<>();

  StreamOptimizedReader(Path vmdk) throws IOException {
    ch = FileChannel.open(vmdk, StandardOpenOption.READ);
    header = header(read(0, SECTOR));
    byte[] d = read(header.descriptorOffset() * SECTOR, (int) header.descriptorSize() * SECTOR);
    int end = 0;
    while (end < d.length && d[end] != 0) {
      end++;
    }
    descriptor = new String(d, 0, end, StandardCharsets.UTF_8);
    long size = ch.size();
    ByteBuffer fm = le(read(size - 3 * SECTOR, SECTOR));
    if (fm.getLong(0) != 1 || fm.getInt(8) != 0 || fm.getInt(12) != 3) {
      throw new IOException("no footer marker at end - 1536");
    }
    footer = header(read(size - 2 * SECTOR, SECTOR));
    ByteBuffer eos = le(read(size - SECTOR, SECTOR));
    for (int i = 0; i < SECTOR; i++) {
      if (eos.get(i) != 0) {
        throw new IOException("end-of-stream marker is not all zero");
      }
    }
    scan(size);
  }

  private void scan(long size) throws IOException {
    long sector = header.overhead();
    while (sector * SECTOR < size) {
      ByteBuffer m = le(read(sector * SECTOR, SECTOR));
      long val = m.getLong(0);
      int len = m.getInt(8);
      if (len != 0) {
        stream.add(new Item("grain", sector, val));
        sector += (12 + len + SECTOR - 1) / SECTOR;
        continue;
      }
      int type = m.getInt(12);
      switch (type) {
        case 0 -> {
          stream.add(new Item("eos", sector, val));
          if ((sector + 1) * SECTOR != size) {
            throw new IOException(
                "end-of-stream marker at sector " + sector + " is not the last sector");
          }
          return;
        }
        case 1 -> stream.add(new Item("gt", sector, val));
        case 2 -> stream.add(new Item("gd", sector, val));
        case 3 -> stream.add(new Item("footer", sector, val));
        default -> throw new IOException("unknown marker type " + type + " at sector " + sector);
      }
      sector += 1 + val;
    }
    throw new IOException("stream ends without an end-of-stream marker");
  }

  /** The virtual disk's content, read through the grain directory and tables of the footer. */
  byte[] content() throws IOException, DataFormatException {
    long capacityBytes = footer.capacity() * SECTOR;
    byte[] out = new byte[Math.toIntExact(capacityBytes)];
    long grainBytes = footer.grainSize() * SECTOR;
    long grains = (footer.capacity() + footer.grainSize() - 1) / footer.grainSize();
    int gts = (int) ((grains + footer.gtesPerGt() - 1) / footer.gtesPerGt());
    ByteBuffer gd = le(read(footer.gdOffset() * SECTOR, gts * 4));
    Inflater inflater = new Inflater();
    try {
      for (int t = 0; t < gts; t++) {
        long gtSector = Integer.toUnsignedLong(gd.getInt(t * 4));
        if (gtSector == 0) {
          continue;
        }
        ByteBuffer gt = le(read(gtSector * SECTOR, footer.gtesPerGt() * 4));
        for (int e = 0; e < footer.gtesPerGt(); e++) {
          long grain = (long) t * footer.gtesPerGt() + e;
          long at = Integer.toUnsignedLong(gt.getInt(e * 4));
          if (at == 0 || grain >= grains) {
            continue;
          }
          ByteBuffer m = le(read(at * SECTOR, 12));
          if (m.getLong(0) != grain * footer.grainSize()) {
            throw new IOException("grain " + grain + " marker says lba " + m.getLong(0));
          }
          byte[] z = read(at * SECTOR + 12, m.getInt(8));
          inflater.reset();
          inflater.setInput(z);
          byte[] g = new byte[(int) grainBytes];
          int n = inflater.inflate(g);
          if (n != grainBytes || !inflater.finished()) {
            throw new IOException("grain " + grain + " inflates to " + n + " bytes");
          }
          long off = grain * grainBytes;
          System.arraycopy(g, 0, out, (int) off, (int) Math.min(grainBytes, capacityBytes - off));
        }
      }
    } finally {
      inflater.end();
    }
    return out;
  }

  private static Header header(byte[] b) {
    ByteBuffer h = le(b);
    return new Header(
        h.getInt(0),
        h.getInt(4),
        h.getInt(8),
        h.getLong(12),
        h.getLong(20),
        h.getLong(28),
        h.getLong(36),
        h.getInt(44),
        h.getLong(48),
        h.getLong(56),
        h.getLong(64),
        new byte[] {h.get(73), h.get(74), h.get(75), h.get(76)},
        Short.toUnsignedInt(h.getShort(77)));
  }

  private byte[] read(long at, int len) throws IOException {
    ByteBuffer bb = ByteBuffer.allocate(len);
    while (bb.hasRemaining()) {
      if (ch.read(bb, at + bb.position()) < 0) {
        throw new IOException("short read at " + at);
      }
    }
    return bb.array();
  }

  private static ByteBuffer le(byte[] b) {
    return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
  }

  @Override
  public void close() throws IOException {
    ch.close();
  }
}
