package dev.kiln.internal.tar;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PathOrderTest {
  @Test
  void aDirectoryComesRightBeforeItsChildren() {
    List<String> expected =
        List.of(
            "a",
            "a/.wh..wh..opq",
            "a/.wh.b",
            "a/b",
            "a/b/c",
            "a/b-c",
            "a/b.c",
            "a-b",
            "a-b/c",
            "a.b",
            "a0",
            "b");
    List<String> shuffled = new ArrayList<>(expected);
    Collections.shuffle(shuffled, new Random(1));
    shuffled.sort(PathOrder.COMPARATOR);
    assertThat(shuffled).isEqualTo(expected);
  }

  @Test
  void namesCompareByCodePointLikeTheirUtf8Bytes() {
    // U+FFEE is one UTF-16 unit above the surrogates, U+1F642 a surrogate pair: bytes EF BF AE < F0
    // 9F 99 82
    List<String> names = new ArrayList<>(List.of("\ud83d\ude42", "\uffee", "\u00e9", "z", "Z"));
    names.sort(PathOrder.COMPARATOR);
    assertThat(names).containsExactly("Z", "z", "\u00e9", "\uffee", "\ud83d\ude42");
  }

  @Test
  void agreesWithSlashAsTheLowestCharacter() {
    Random r = new Random(7);
    String alphabet = "/-._aAzZ\u00e9";
    for (int i = 0; i < 20_000; i++) {
      String a = random(r, alphabet);
      String b = random(r, alphabet);
      int expected = Integer.signum(a.replace('/', '\0').compareTo(b.replace('/', '\0')));
      assertThat(Integer.signum(PathOrder.compare(a, b))).as("%s vs %s", a, b).isEqualTo(expected);
    }
  }

  private static String random(Random r, String alphabet) {
    StringBuilder sb = new StringBuilder();
    int len = 1 + r.nextInt(6);
    for (int i = 0; i < len; i++) {
      sb.append(alphabet.charAt(r.nextInt(alphabet.length())));
    }
    return sb.toString();
  }
}
