package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The name patterns of template retention, and how its reasons name ages. */
class VsphereLifecycleTest {
  @Test
  void onlyStarAndQuestionMarkAreWildcards() {
    Pattern p = VsphereLifecycle.glob("web-?");
    assertThat(p.matcher("web-1").matches()).isTrue();
    assertThat(p.matcher("web-12").matches()).isFalse();
    assertThat(p.matcher("xweb-1").matches()).isFalse();
    Pattern star = VsphereLifecycle.glob("web-*");
    assertThat(star.matcher("web-").matches()).isTrue();
    assertThat(star.matcher("web-1.4 (rc)").matches()).isTrue();
    assertThat(star.matcher("web").matches()).isFalse();
    // regular expression characters are plain characters
    Pattern literal = VsphereLifecycle.glob("web.(1)[a]+");
    assertThat(literal.matcher("web.(1)[a]+").matches()).isTrue();
    assertThat(literal.matcher("webX1a").matches()).isFalse();
    assertThat(literal.matcher("web.(1)aa").matches()).isFalse();
  }

  @Test
  void agesReadAsDaysOrHours() {
    assertThat(VsphereLifecycle.describe(Duration.ofDays(30))).isEqualTo("30 days");
    assertThat(VsphereLifecycle.describe(Duration.ofDays(1))).isEqualTo("1 day");
    assertThat(VsphereLifecycle.describe(Duration.ofHours(36))).isEqualTo("36 hours");
    assertThat(VsphereLifecycle.describe(Duration.ofMinutes(90))).isEqualTo("PT1H30M");
  }
}
