package dev.kiln.vmware.internal.vsphere;

import java.io.IOException;
import java.util.Optional;

/**
 * vSphere answered a call with a fault or an error status, or did not answer as its API says.
 * Carries the fault type ({@code InvalidLogin}, {@code ManagedObjectNotFound}, {@code
 * DuplicateName}, …) when the server named one.
 */
public class VsphereException extends IOException {
  private static final long serialVersionUID = 1L;
  private final String faultType;

  public VsphereException(String message) {
    this(null, message, null);
  }

  public VsphereException(String faultType, String message) {
    this(faultType, message, null);
  }

  public VsphereException(String faultType, String message, Throwable cause) {
    super(faultType == null ? message : faultType + ": " + message, cause);
    this.faultType = faultType;
  }

  /** The vSphere fault type, if the server named one. */
  public Optional<String> faultType() {
    return Optional.ofNullable(faultType);
  }

  /** Whether the fault is of type {@code type}. */
  public boolean is(String type) {
    return type.equals(faultType);
  }
}
