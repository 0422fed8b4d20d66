package dev.kiln.event;

/**
 * Receives {@link BakeEvent}s. Called from the bake's worker threads, possibly concurrently:
 * implementations must be thread-safe and quick (hand long work to another thread). An exception
 * thrown by a listener is logged and does not fail the bake.
 */
@FunctionalInterface
public interface BakeListener {
  void onEvent(BakeEvent event);
}
