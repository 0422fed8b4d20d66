package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** The run, packages and ansible layers take their timeout and network by one rule. */
class RunConditionsTest {
  /** One layer kind: a fresh layer, and how to set and read its timeout and network. */
  private record Kind<L extends Layer>(
      L layer,
      BiFunction<L, Duration, L> withTimeout,
      BiFunction<L, String, L> withNetwork,
      Function<L, Duration> timeout,
      Function<L, Optional<String>> network) {}

  private static final List<Kind<?>> KINDS =
      List.of(
          new Kind<>(
              Layer.run("x", "true"),
              RunLayer::timeout,
              RunLayer::network,
              RunLayer::timeout,
              RunLayer::network),
          new Kind<>(
              Layer.packages("curl"),
              PackagesLayer::timeout,
              PackagesLayer::network,
              PackagesLayer::timeout,
              PackagesLayer::network),
          new Kind<>(
              Layer.ansible(Path.of("site.yml")),
              AnsibleLayer::timeout,
              AnsibleLayer::network,
              AnsibleLayer::timeout,
              AnsibleLayer::network));

  @Test
  void everyKindStartsWithTheDefaultTimeoutAndNetwork() {
    for (Kind<?> k : KINDS) {
      check(k);
    }
  }

  private static <L extends Layer> void check(Kind<L> k) {
    L l = k.layer();
    assertThat(k.timeout().apply(l)).as(l.kind()).isEqualTo(RunLayer.DEFAULT_TIMEOUT);
    assertThat(k.network().apply(l)).as(l.kind()).isEmpty();

    L set = k.withNetwork().apply(k.withTimeout().apply(l, Duration.ofSeconds(5)), "host");
    assertThat(k.timeout().apply(set)).as(l.kind()).isEqualTo(Duration.ofSeconds(5));
    assertThat(k.network().apply(set)).as(l.kind()).hasValue("host");
    assertThat(k.timeout().apply(l))
        .as("unchanged " + l.kind())
        .isEqualTo(RunLayer.DEFAULT_TIMEOUT);

    L same = k.withTimeout().apply(k.withNetwork().apply(l, "host"), Duration.ofSeconds(5));
    assertThat(set).as(l.kind()).isEqualTo(same).hasSameHashCodeAs(same).isNotEqualTo(l);
    assertThat(k.withNetwork().apply(l, "none")).as(l.kind()).isNotEqualTo(set).isNotEqualTo(l);
    assertThat(k.withTimeout().apply(l, Duration.ofSeconds(6)))
        .as(l.kind())
        .isNotEqualTo(k.withTimeout().apply(l, Duration.ofSeconds(5)));
  }

  @Test
  void everyKindRefusesABadTimeoutOrNetworkWithOneMessage() {
    for (Kind<?> k : KINDS) {
      refuse(k);
    }
  }

  private static <L extends Layer> void refuse(Kind<L> k) {
    L l = k.layer();
    for (Duration d : new Duration[] {Duration.ZERO, Duration.ofSeconds(-1), null}) {
      assertThatThrownBy(() -> k.withTimeout().apply(l, d))
          .as(l.kind() + " " + d)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("timeout must be positive");
    }
    for (String n : new String[] {"", "-net", "my net", "a/b", null}) {
      assertThatThrownBy(() -> k.withNetwork().apply(l, n))
          .as(l.kind() + " '" + n + "'")
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("bad network name: " + n);
    }
  }
}
