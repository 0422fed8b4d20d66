package dev.kiln.ec2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Base64;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.services.ebs.EbsClient;
import software.amazon.awssdk.services.ebs.model.Block;
import software.amazon.awssdk.services.ebs.model.GetSnapshotBlockResponse;
import software.amazon.awssdk.services.ebs.model.ListSnapshotBlocksResponse;

/**
 * Reads a snapshot back through the EBS direct APIs (ListSnapshotBlocks + GetSnapshotBlock), as
 * coldsnap does.
 */
final class SdkReadBack {
  private SdkReadBack() {}

  /**
   * Writes the first {@code length} bytes of the snapshot's volume to {@code out}; returns the
   * blocks read.
   */
  static int read(EbsClient ebs, String snapshotId, Path out, long length) throws Exception {
    int count = 0;
    try (FileChannel ch =
        FileChannel.open(
            out,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      String token = null;
      do {
        final String t = token;
        ListSnapshotBlocksResponse page =
            ebs.listSnapshotBlocks(b -> b.snapshotId(snapshotId).maxResults(100).nextToken(t));
        for (Block block : page.blocks()) {
          long pos = (long) block.blockIndex() * page.blockSize();
          if (pos >= length) {
            continue;
          }
          try (ResponseInputStream<GetSnapshotBlockResponse> in =
              ebs.getSnapshotBlock(
                  b ->
                      b.snapshotId(snapshotId)
                          .blockIndex(block.blockIndex())
                          .blockToken(block.blockToken()))) {
            byte[] data = in.readAllBytes();
            String sum =
                Base64.getEncoder()
                    .encodeToString(MessageDigest.getInstance("SHA-256").digest(data));
            if (!sum.equals(in.response().checksum())
                || data.length != in.response().dataLength()) {
              throw new IOException(
                  "block " + block.blockIndex() + " does not match its checksum or length");
            }
            ByteBuffer bb = ByteBuffer.wrap(data, 0, (int) Math.min(data.length, length - pos));
            while (bb.hasRemaining()) {
              ch.write(bb, pos + bb.position());
            }
            count++;
          }
        }
        token = page.nextToken();
      } while (token != null);
      if (ch.size() < length) {
        ch.write(ByteBuffer.wrap(new byte[1]), length - 1);
      }
    }
    return count;
  }
}
