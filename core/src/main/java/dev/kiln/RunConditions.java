package dev.kiln;

import static com.google.common.base.Preconditions.checkArgument;

import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The conditions a layer's container run works under, shared by the {@code run}, {@code packages}
 * and {@code ansible} layers: how long it may take and the network it joins ({@code null}: the
 * engine's default). Neither changes what the run writes, so neither is part of a layer's key.
 */
record RunConditions(Duration timeout, String network) {
  private static final Pattern NETWORK = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*");

  /** A run bounded by {@link RunLayer#DEFAULT_TIMEOUT} on the engine's default network. */
  static final RunConditions DEFAULT = new RunConditions(RunLayer.DEFAULT_TIMEOUT, null);

  RunConditions {
    Objects.requireNonNull(timeout, "timeout");
  }

  /** These conditions with another timeout, which must be positive. */
  RunConditions withTimeout(Duration timeout) {
    checkArgument(
        timeout != null && !timeout.isNegative() && !timeout.isZero(), "timeout must be positive");
    return new RunConditions(timeout, network);
  }

  /** These conditions with another network: {@code host}, {@code none} or a network name. */
  RunConditions withNetwork(String network) {
    checkArgument(
        network != null && NETWORK.matcher(network).matches(), "bad network name: %s", network);
    return new RunConditions(timeout, network);
  }
}
