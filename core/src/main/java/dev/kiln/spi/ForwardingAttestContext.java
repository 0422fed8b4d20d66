package dev.kiln.spi;

import dev.kiln.Attestation;
import dev.kiln.LayerRecord;
import dev.kiln.PublishedImage;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * An {@link AttestContext} that hands every call to another: the base of an attestor that wraps
 * another one (timing it, counting what it reads, giving it its own notes back) and overrides only
 * what it changes.
 */
public abstract class ForwardingAttestContext implements AttestContext {
  private final AttestContext delegate;

  /** A context that forwards to {@code delegate}. */
  protected ForwardingAttestContext(AttestContext delegate) {
    this.delegate = Objects.requireNonNull(delegate, "delegate");
  }

  @Override
  public ImageView image() {
    return delegate.image();
  }

  @Override
  public Set<Attestation.Kind> kinds() {
    return delegate.kinds();
  }

  @Override
  public String base() {
    return delegate.base();
  }

  @Override
  public Map<String, PublishedImage> published() {
    return delegate.published();
  }

  @Override
  public Instant buildTime() {
    return delegate.buildTime();
  }

  @Override
  public void warn(String message) {
    delegate.warn(message);
  }

  @Override
  public Optional<LayerNotes> notes(LayerRecord layer) {
    return delegate.notes(layer);
  }
}
