package dev.kiln.vmware.hostile;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.vmware.VsphereLifecycle;
import dev.kiln.vmware.VsphereTarget;
import dev.kiln.vmware.auth.Credentials;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Template retention asked in a way that could remove more than meant: refused before vCenter is
 * contacted (the host does not exist, so any connection would fail differently).
 */
class VsphereRetentionHostileTest {
  private static final VsphereTarget TARGET =
      VsphereTarget.template("vc.invalid", "DC", "vm/templates", "web-1");

  private static VsphereLifecycle lifecycle() {
    return VsphereLifecycle.of(TARGET).credentials(Credentials.of("u", "p"));
  }

  @Test
  void withoutAKeepRuleNothingRuns() {
    assertThatThrownBy(() -> lifecycle().run("web-*"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("keepNewest(k) and/or keepYoungerThan(age)");
  }

  @Test
  void anEmptyPatternOrANegativeRuleIsRefused() {
    assertThatThrownBy(() -> lifecycle().keepNewest(1).run(""))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> lifecycle().keepNewest(1).run(" "))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> lifecycle().keepNewest(-2))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("found -2");
    assertThatThrownBy(() -> lifecycle().keepYoungerThan(Duration.ofHours(-1)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
