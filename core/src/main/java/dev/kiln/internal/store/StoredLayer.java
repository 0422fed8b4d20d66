package dev.kiln.internal.store;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSetter;
import com.fasterxml.jackson.annotation.Nulls;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import dev.kiln.LayerRecord;
import dev.kiln.internal.oci.Json;
import dev.kiln.spi.Fingerprint;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * A {@link LayerRecord} as a file of the store holds it. Each file is a view of the record: a
 * mix-in extending {@link View} that names the properties in their order and those the file leaves
 * out ({@code @JsonPropertyOrder}, {@code @JsonIgnoreProperties}), written and read by a mapper of
 * its own ({@link #mapper}). Every view reads the same way, as {@link View} says.
 */
public final class StoredLayer {
  private StoredLayer() {}

  /**
   * How every view reads and writes: what an older file leaves out reads as empty (name, kind,
   * media type, inputs, metadata) or, for the uncompressed size, as unknown (-1), which is not
   * written. A view that leaves the key out reads none.
   */
  public interface View {
    @JsonSetter(nulls = Nulls.AS_EMPTY)
    String name();

    @JsonSetter(nulls = Nulls.AS_EMPTY)
    String kind();

    @JsonInclude(value = JsonInclude.Include.CUSTOM, valueFilter = Json.OmitNegative.class)
    @JsonDeserialize(using = UnknownSize.class)
    long uncompressedSize();

    @JsonSetter(nulls = Nulls.AS_EMPTY)
    String mediaType();

    @JsonSetter(nulls = Nulls.AS_EMPTY)
    List<Fingerprint.Input> inputs();

    @JsonSetter(nulls = Nulls.AS_EMPTY)
    Map<String, String> metadata();
  }

  /** A mapper that writes and reads every {@link LayerRecord} as {@code view} says. */
  public static ObjectMapper mapper(Class<? extends View> view) {
    return Json.mapper().copy().addMixIn(LayerRecord.class, view);
  }

  /** An uncompressed size; -1 (unknown) when absent or null. */
  static final class UnknownSize extends StdDeserializer<Long> {
    UnknownSize() {
      super(Long.class);
    }

    @Override
    public Long deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
      return _parseLongPrimitive(p, ctx);
    }

    @Override
    public Long getNullValue(DeserializationContext ctx) {
      return -1L;
    }
  }
}
