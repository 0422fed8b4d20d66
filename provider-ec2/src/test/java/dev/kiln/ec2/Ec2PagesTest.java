package dev.kiln.ec2;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every page of a Describe call is read, and the call stops at a missing or empty token. */
class Ec2PagesTest {
  record Page(List<String> items, String next) {}

  @Test
  void followsTheTokensToTheLastPage() {
    Map<String, Page> pages =
        Map.of(
            "", new Page(List.of("a", "b"), "t1"),
            "t1", new Page(List.of("c"), "t2"),
            "t2", new Page(List.of("d"), null));
    List<String> asked = new ArrayList<>();
    List<String> all =
        Ec2Pages.all(
            t -> {
              asked.add(String.valueOf(t));
              return pages.get(t == null ? "" : t);
            },
            Page::items,
            Page::next);
    assertThat(all).containsExactly("a", "b", "c", "d");
    assertThat(asked).containsExactly("null", "t1", "t2");
  }

  @Test
  void anEmptyTokenEndsTheListing() {
    List<String> all = Ec2Pages.all(t -> new Page(List.of("only"), ""), Page::items, Page::next);
    assertThat(all).containsExactly("only");
  }
}
