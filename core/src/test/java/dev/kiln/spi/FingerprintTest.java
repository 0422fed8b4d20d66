package dev.kiln.spi;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.base.Strings;
import com.google.common.hash.Hasher;
import com.google.common.hash.Hashing;
import dev.kiln.Digest;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The fingerprint encoding is part of every cache key: these tests pin it to a straightforward
 * reference encoding (one hasher call per field part), so buffering or other speed-ups can never
 * change a key.
 */
class FingerprintTest {

  /** The encoding, written the plain way. */
  private static final class Reference {
    final Hasher h = Hashing.sha256().newHasher();

    void field(char type, String name) {
      h.putChar(type);
      bytes(name.getBytes(StandardCharsets.UTF_8));
    }

    void bytes(byte[] b) {
      h.putInt(b.length).putBytes(b);
    }
  }

  @Test
  void encodingMatchesTheReferenceForEveryKindOfField() {
    Random rnd = new Random(42);
    for (int round = 0; round < 200; round++) {
      Fingerprint fp = new Fingerprint();
      Reference ref = new Reference();
      int fields = rnd.nextInt(3000);
      for (int i = 0; i < fields; i++) {
        String name = text(rnd, 12);
        switch (rnd.nextInt(4)) {
          case 0 -> {
            String v =
                rnd.nextInt(50) == 0
                    ? Strings.repeat("x", 9000 + rnd.nextInt(9000))
                    : text(rnd, 40);
            fp.put(name, v);
            ref.field('s', name);
            ref.bytes(v.getBytes(StandardCharsets.UTF_8));
          }
          case 1 -> {
            long v = rnd.nextLong();
            fp.put(name, v);
            ref.field('l', name);
            ref.h.putLong(v);
          }
          case 2 -> {
            List<String> v = List.of(text(rnd, 5), text(rnd, 30));
            fp.put(name, v);
            ref.field('L', name);
            ref.h.putInt(v.size());
            v.forEach(x -> ref.bytes(x.getBytes(StandardCharsets.UTF_8)));
          }
          default -> {
            Digest d = Digest.of(name.getBytes(StandardCharsets.UTF_8));
            fp.input(name, d);
            ref.field('d', name);
            ref.bytes(d.hex().getBytes(StandardCharsets.US_ASCII));
          }
        }
      }
      assertThat(fp.digest().hex()).isEqualTo(ref.h.hash().toString());
    }
  }

  @Test
  void aKnownFingerprintKeepsItsDigest() {
    // pinned (computed independently, with Python's hashlib): a change here changes every cache key
    // in every store
    Fingerprint fp =
        new Fingerprint().put("format", "files.v1").put("entries", 2).put("path", "usr/bin/ä");
    assertThat(fp.digest().hex())
        .isEqualTo("aea01d1ba933a9c5de3179228906fc9f6b57dda1e17f610750042f13b46861ff");
  }

  private static String text(Random rnd, int max) {
    StringBuilder sb = new StringBuilder();
    int n = rnd.nextInt(max + 1);
    for (int i = 0; i < n; i++) {
      int k = rnd.nextInt(20);
      sb.appendCodePoint(k == 0 ? 0xe4 : k == 1 ? 0x1F600 : k == 2 ? 0x7f : 'a' + rnd.nextInt(26));
    }
    return sb.toString();
  }
}
