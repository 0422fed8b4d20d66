package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The pipe between the docker-archive's writer and the daemon's load: every byte in order, the end
 * only when the writer closes, and a writer that cannot go on once the reader has stopped.
 */
@Timeout(60)
class ChunkPipeTest {

  @Test
  void everyByteArrivesInOrderAcrossChunksWithBothSidesAtWork() throws Exception {
    byte[] data = new byte[5_000_003];
    new Random(1).nextBytes(data);
    DockerArchive.ChunkPipe pipe = new DockerArchive.ChunkPipe();
    CompletableFuture<byte[]> read =
        CompletableFuture.supplyAsync(
            () -> {
              try (InputStream in = pipe.in) {
                return in.readAllBytes();
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    try (OutputStream out = pipe.out) {
      Random sizes = new Random(2);
      for (int off = 0; off < data.length; ) {
        int n = Math.min(data.length - off, 1 + sizes.nextInt(700_000));
        if (n == 1) {
          out.write(data[off]);
        } else {
          out.write(data, off, n);
        }
        off += n;
      }
    }
    assertThat(read.get(30, TimeUnit.SECONDS)).isEqualTo(data);
  }

  @Test
  void aReaderThatStopsMakesTheWriterFailInsteadOfWaitingForever() throws Exception {
    DockerArchive.ChunkPipe pipe = new DockerArchive.ChunkPipe();
    CompletableFuture<Void> writer =
        CompletableFuture.runAsync(
            () -> {
              byte[] chunk = new byte[1 << 20];
              try (OutputStream out = pipe.out) {
                while (true) {
                  out.write(chunk); // fills the pipe, then waits for room
                }
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    Thread.sleep(200); // the writer is blocked on a full pipe (no timing is asserted)
    pipe.in.close();
    assertThatThrownBy(() -> writer.get(30, TimeUnit.SECONDS))
        .hasRootCauseInstanceOf(IOException.class)
        .hasRootCauseMessage("Pipe closed");
    assertThatThrownBy(() -> pipe.in.read()).isInstanceOf(IOException.class);
  }

  @Test
  void aReaderThatStopsAfterWhatItNeededLetsTheWriterCloseWithoutAnError() throws Exception {
    DockerArchive.ChunkPipe pipe = new DockerArchive.ChunkPipe();
    pipe.out.write(new byte[1000]); // held back in the writer's chunk
    pipe.in.close(); // a sink that stops reading once it has what it needs
    pipe.out.close(); // as PipedOutputStream: no error
    assertThatThrownBy(() -> pipe.out.write(1)).hasMessage("Pipe closed");
  }

  @Test
  void anEmptyWriteEndsTheStreamAtOnce() throws Exception {
    DockerArchive.ChunkPipe pipe = new DockerArchive.ChunkPipe();
    pipe.out.close();
    assertThat(pipe.in.read()).isEqualTo(-1);
    assertThat(pipe.in.read(new byte[10], 0, 10)).isEqualTo(-1);
  }
}
