package dev.kiln.vmware;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.RetentionReport;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
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

  @Test
  void aTemplateOfUnknownAgeIsKeptAndNotRanked() {
    Instant now = Instant.parse("2026-12-05T12:00:00Z");
    VsphereLifecycle l =
        VsphereLifecycle.of(VsphereTarget.template("vc.invalid", "DC", "vm", "web-3"))
            .keepNewest(1)
            .keepYoungerThan(Duration.ofDays(7))
            .clock(Clock.fixed(now, ZoneOffset.UTC));
    List<VsphereLifecycle.Candidate> found =
        List.of(
            new VsphereLifecycle.Candidate(
                "/DC/vm/web-1", "vm-1", Optional.of(now.minus(Duration.ofDays(30))), 0),
            new VsphereLifecycle.Candidate("/DC/vm/web-0", "vm-0", Optional.empty(), 0),
            new VsphereLifecycle.Candidate(
                "/DC/vm/web-2", "vm-2", Optional.of(now.minus(Duration.ofDays(20))), 0),
            new VsphereLifecycle.Candidate(
                "/DC/vm/web-3", "vm-3", Optional.of(now.minus(Duration.ofDays(10))), 0),
            new VsphereLifecycle.Candidate(
                "/DC/vm/web-4", "vm-4", Optional.of(now.minus(Duration.ofDays(1))), 0));
    List<RetentionReport.Item> kept = new ArrayList<>();
    List<VsphereLifecycle.Decision> go = l.decide(found, kept, "template");
    assertThat(go)
        .extracting(d -> d.c().id() + ": " + d.reason())
        .containsExactly(
            "/DC/vm/web-3: older than 7 days, not among the newest 1",
            "/DC/vm/web-2: older than 7 days, not among the newest 1",
            "/DC/vm/web-1: older than 7 days, not among the newest 1");
    assertThat(kept)
        .extracting(i -> i.id() + ": " + i.reason())
        .containsExactly(
            "/DC/vm/web-0: publication time unknown",
            "/DC/vm/web-4: newest 1, younger than 7 days");
  }
}
