package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/**
 * The pipe a streamed load's archive goes through: every byte in order, an end only after the
 * writer closed it, and a failure on either side is an error on the other, never an end.
 */
class StreamedLoadPipeTest {

  @Test
  void bytesGoThroughInOrderAcrossTheRingsEnd() throws Exception {
    StreamedLoad.Pipe pipe = new StreamedLoad.Pipe(1000);
    byte[] data = new byte[100_003];
    new Random(3).nextBytes(data);
    CompletableFuture<Void> writer =
        CompletableFuture.runAsync(
            () -> {
              try {
                for (int off = 0; off < data.length; off += 777) {
                  pipe.out.write(data, off, Math.min(777, data.length - off));
                }
                pipe.out.close();
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    byte[] buf = new byte[313];
    int n;
    while ((n = pipe.in.read(buf)) >= 0) {
      got.write(buf, 0, n);
    }
    writer.get();
    assertThat(got.toByteArray()).isEqualTo(data);
  }

  @Test
  void aFailedPipeIsAnErrorForTheReaderNotAnEnd() throws Exception {
    StreamedLoad.Pipe pipe = new StreamedLoad.Pipe(1000);
    pipe.out.write(new byte[10]);
    pipe.fail(new IOException("aborted"));
    assertThatThrownBy(() -> pipe.in.read(new byte[100]))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("aborted");
  }

  @Test
  void aWriterBlockedOnAFullPipeIsReleasedByAFailure() throws Exception {
    StreamedLoad.Pipe pipe = new StreamedLoad.Pipe(16);
    CompletableFuture<Void> writer =
        CompletableFuture.runAsync(
            () -> {
              try {
                pipe.out.write(new byte[64]); // blocks after 16 bytes: nobody reads
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    pipe.fail(new IOException("the daemon stopped reading"));
    assertThatThrownBy(writer::get)
        .isInstanceOf(ExecutionException.class)
        .hasRootCauseMessage("the daemon stopped reading");
  }

  @Test
  void aFailureAfterTheWholeArchiveWasReadChangesNothing() throws Exception {
    StreamedLoad.Pipe pipe = new StreamedLoad.Pipe(16);
    pipe.out.write(new byte[5]);
    pipe.out.close();
    assertThat(pipe.in.read(new byte[10])).isEqualTo(5);
    pipe.fail(new IOException("late"));
    assertThat(pipe.in.read(new byte[10])).isEqualTo(-1);
  }
}
