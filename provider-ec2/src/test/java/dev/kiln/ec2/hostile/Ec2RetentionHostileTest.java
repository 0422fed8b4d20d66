package dev.kiln.ec2.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.ec2.Ec2Clients;
import dev.kiln.ec2.Ec2Lifecycle;
import dev.kiln.ec2.LoopbackAws;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Retention asked in a way that could remove more than meant: refused before any call reaches EC2.
 */
class Ec2RetentionHostileTest {
  @Test
  void withoutAKeepRuleNothingRuns() {
    try (LoopbackAws aws = LoopbackAws.start();
        Ec2Clients clients = Ec2Clients.create(aws.target("eu-west-1", "web"))) {
      assertThatThrownBy(() -> Ec2Lifecycle.create(clients).run("web"))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("keepNewest(k) and/or keepYoungerThan(age)");
      assertThatThrownBy(() -> Ec2Lifecycle.create(clients).keepNewest(-1))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("found -1");
      assertThatThrownBy(() -> Ec2Lifecycle.create(clients).keepYoungerThan(Duration.ofDays(-1)))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> Ec2Lifecycle.create(clients).regions())
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(aws.log()).isEmpty();
    }
  }

  /** EC2 filters read * and ? as wildcards: such a "name" would reach the AMIs of other names. */
  @ParameterizedTest
  @ValueSource(strings = {"*", "web*", "we?", " ", ""})
  void aNameThatIsAPatternOrEmptyIsRefused(String name) {
    try (LoopbackAws aws = LoopbackAws.start();
        Ec2Clients clients = Ec2Clients.create(aws.target("eu-west-1", "web"))) {
      assertThatThrownBy(() -> Ec2Lifecycle.create(clients).keepNewest(1).run(name))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(aws.log()).isEmpty();
    }
  }
}
