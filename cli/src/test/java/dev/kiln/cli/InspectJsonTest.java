package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.BakeResult;
import dev.kiln.Base;
import dev.kiln.ImageBuild;
import dev.kiln.Kiln;
import dev.kiln.Layer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kiln inspect --json} is read by scripts: the image record as the store holds it, then the
 * image, its names and its publications, in that order and shape.
 */
class InspectJsonTest {
  @TempDir Path dir;

  @Test
  void theJsonOfAnImageKeepsItsShape() throws Exception {
    Path store = dir.resolve("store");
    Path layout = dir.resolve("out");
    BakeResult r;
    try (Kiln k = Kiln.builder().store(store).build()) {
      r =
          k.bake(
              ImageBuild.from(Base.scratch())
                  .layer(
                      Layer.files("app")
                          .content("/app/v", "1\n".getBytes(StandardCharsets.UTF_8), 0644)),
              "oci:" + layout + ":app");
      k.tag(r.digest(), "release");
    }
    CliRun run = CliRun.kiln("inspect", "--json", "--store", store.toString(), "release");
    assertThat(run.code()).as(run.toString()).isZero();
    String record =
        Files.readString(
            store.resolve("records/" + r.digest().hex() + ".json"), StandardCharsets.UTF_8);
    Matcher seal = Pattern.compile("\"seal\":\"([^\"]*)\"").matcher(record);
    Matcher firstBaked = Pattern.compile("\"firstBaked\":\"([^\"]*)\"").matcher(record);
    Matcher at = Pattern.compile("\"at\" : \"([^\"]*)\"").matcher(run.out());
    assertThat(seal.find() && firstBaked.find() && at.find()).as(run.out()).isTrue();
    String l = r.layers().get(0).key().toString();
    assertThat(run.out())
        .isEqualTo(
            "{\n"
                + "  \"schema\" : \"dev.kiln.record.v1\",\n"
                + "  \"image\" : \""
                + r.digest()
                + "\",\n"
                + "  \"config\" : \""
                + r.configDigest()
                + "\",\n"
                + "  \"key\" : \""
                + l
                + "\",\n"
                + "  \"base\" : \"scratch\",\n"
                + "  \"firstBaked\" : \""
                + firstBaked.group(1)
                + "\",\n"
                + "  \"layers\" : [ {\n"
                + "    \"name\" : \"app\",\n"
                + "    \"kind\" : \"files\",\n"
                + "    \"key\" : \""
                + l
                + "\",\n"
                + "    \"diffId\" : \""
                + r.layers().get(0).diffId()
                + "\",\n"
                + "    \"digest\" : \""
                + r.layers().get(0).digest()
                + "\",\n"
                + "    \"size\" : "
                + r.layers().get(0).size()
                + ",\n"
                + "    \"uncompressedSize\" : "
                + r.layers().get(0).uncompressedSize()
                + ",\n"
                + "    \"inputs\" : [ {\n"
                + "      \"name\" : \"/app/v\",\n"
                + "      \"digest\" : \""
                + r.layers().get(0).inputs().get(0).digest()
                + "\"\n"
                + "    } ]\n"
                + "  } ],\n"
                + "  \"seal\" : \""
                + seal.group(1)
                + "\",\n"
                + "  \"names\" : [ \"release\" ],\n"
                + "  \"publications\" : [ {\n"
                + "    \"target\" : \"oci:"
                + layout
                + ":app\",\n"
                + "    \"at\" : \""
                + at.group(1)
                + "\",\n"
                + "    \"reused\" : false,\n"
                + "    \"details\" : {\n"
                + "      \"layout\" : \""
                + layout
                + "\",\n"
                + "      \"tag\" : \"app\"\n"
                + "    }\n"
                + "  } ]\n"
                + "}\n");
  }
}
