package dev.kiln;

/**
 * An image definition could not be found, loaded or run: no definition on the class path, a class
 * that is not an {@link ImageDefinition}, a definition that threw or returned nothing, a name it
 * does not define. The message is one line that names the definition.
 */
public class DefinitionException extends BakeException {
  private static final long serialVersionUID = 1L;

  public DefinitionException(String message) {
    super(message);
  }

  public DefinitionException(String message, Throwable cause) {
    super(message, cause);
  }
}
