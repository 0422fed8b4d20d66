package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.Digest;
import dev.kiln.internal.oci.Json;
import dev.kiln.internal.store.KeyEntry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Key entries come from the store and from a remote cache shared by a fleet (unsealed there): an
 * entry that is not one is an {@link IOException} when read (the layer is then provisioned, or
 * pulled, again), never an entry with holes that fails a bake later.
 */
class DamagedKeyEntryJsonTest {
  static final String D = Digest.of("x".getBytes(StandardCharsets.UTF_8)).toString();

  @ParameterizedTest
  @ValueSource(
      strings = {
        "null",
        "[]",
        "\"text\"",
        "7",
        "{}",
        "{\"name\":\"app\",\"digest\":\"D\"}",
        "{\"name\":\"app\",\"diffId\":\"D\"}",
        "{\"diffId\":\"D\",\"digest\":\"sha256:abc\"}",
        "{\"diffId\":null,\"digest\":\"D\"}",
        "{\"diffId\":\"D\",\"digest\":\"D\",\"size\":\"many\"}",
        "{\"diffId\":\"D\",\"digest\":\"D\",\"uncompressedSize\":[1]}",
        "{\"diffId\":\"D\",\"digest\":\"D\",\"inputs\":[null]}",
        "{\"diffId\":\"D\",\"digest\":\"D\",\"inputs\":[{\"name\":\"/a\"}]}",
        "{\"diffId\":\"D\",\"digest\":\"D\",\"inputs\":[{\"digest\":\"D\"}]}",
        "{\"diffId\":\"D\",\"digest\":\"D\",\"inputs\":{\"name\":\"/a\"}}",
        "{\"diffId\":\"D\",\"digest\":\"D\",\"metadata\":{\"apt.curl\":null}}",
        "{\"diffId\":\"D\",\"digest\":\"D\",\"metadata\":{\"apt.curl\":{\"v\":1}}}",
        "{\"diffId\":\"D\",\"digest\":\"D\",\"metadata\":[\"a\"]}"
      })
  void anEntryThatIsNotOneCannotBeRead(String json) {
    assertThatThrownBy(() -> KeyEntry.fromJson(Json.read(bytes(json))))
        .as(json)
        .isInstanceOf(IOException.class);
  }

  @Test
  void theFieldsAnEntryNeedsAreEnough() throws Exception {
    KeyEntry e = KeyEntry.fromJson(Json.read(bytes("{\"diffId\":\"D\",\"digest\":\"D\"}")));
    assertThat(e.digest()).hasToString(D);
    assertThat(e.uncompressedSize()).isEqualTo(-1);
    assertThat(e.inputs()).isEmpty();
    assertThat(e.metadata()).isEmpty();
    assertThat(e.name()).isEmpty();
  }

  private static byte[] bytes(String json) {
    return json.replace("\"D\"", "\"" + D + "\"").getBytes(StandardCharsets.UTF_8);
  }
}
