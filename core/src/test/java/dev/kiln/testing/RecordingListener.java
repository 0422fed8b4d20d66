package dev.kiln.testing;

import dev.kiln.event.BakeEvent;
import dev.kiln.event.BakeListener;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Collects bake events for assertions. Thread-safe. */
public final class RecordingListener implements BakeListener {
  private final List<BakeEvent> events = new CopyOnWriteArrayList<>();

  @Override
  public void onEvent(BakeEvent event) {
    events.add(event);
  }

  public List<BakeEvent> events() {
    return List.copyOf(events);
  }

  public <T extends BakeEvent> List<T> of(Class<T> type) {
    return events.stream().filter(type::isInstance).map(type::cast).toList();
  }

  /** Names of the layers provisioned (not found in the cache). */
  public List<String> provisioned() {
    return of(BakeEvent.LayerProvisioned.class).stream()
        .map(BakeEvent.LayerProvisioned::layer)
        .toList();
  }

  /** Total bytes of input files read while fingerprinting. */
  public long bytesRead() {
    return of(BakeEvent.InputsHashed.class).stream()
        .mapToLong(BakeEvent.InputsHashed::bytesRead)
        .sum();
  }

  public long filesRead() {
    return of(BakeEvent.InputsHashed.class).stream()
        .mapToLong(BakeEvent.InputsHashed::filesRead)
        .sum();
  }

  public void clear() {
    events.clear();
  }
}
