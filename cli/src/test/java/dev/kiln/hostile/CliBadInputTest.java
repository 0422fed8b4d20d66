package dev.kiln.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.cli.CliRun;
import dev.kiln.cli.Exit;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input to the kiln command: each gives one line on standard error that says what is wrong,
 * nothing on standard output, a non-zero exit code a script can act on, and leaves no target
 * behind.
 */
class CliBadInputTest {
  static final String GOOD =
      """
      import dev.kiln.*;

      public class Images implements ImageDefinition {
        public ImageBuild define(DefinitionContext ctx) {
          return ImageBuild.from(Base.scratch()).layer(Layer.files("app").content("/a", new byte[] {1}, 0644));
        }
      }
      """;

  @TempDir Path dir;

  /** Asserts the one-line failure and returns its line. */
  static String fails(CliRun r, int code) {
    assertThat(r.code()).as(r.toString()).isEqualTo(code);
    assertThat(r.out()).as(r.toString()).isEmpty();
    assertThat(r.errLines()).as(r.toString()).hasSize(1);
    assertThat(r.errLines().get(0)).startsWith("kiln: ");
    return r.errLines().get(0);
  }

  Path write(String name, String source) throws Exception {
    Path f = dir.resolve(name);
    Files.writeString(f, source);
    return f;
  }

  String store() {
    return dir.resolve("store").toString();
  }

  @Test
  void aMissingDefinitionFile() {
    String line =
        fails(
            CliRun.kiln("run", dir.resolve("Nope.java").toString(), "--store", store()),
            Exit.DEFINITION);
    assertThat(line).contains("Nope.java").contains("not found");
  }

  @Test
  void aDefinitionThatDoesNotCompile() throws Exception {
    Path f = write("Images.java", GOOD.replace("Layer.files(\"app\")", "Layer.filez(\"app\")"));
    String line =
        fails(
            CliRun.kiln(
                "run",
                f.toString(),
                "-t",
                "oci-archive:" + dir.resolve("x.tar"),
                "--store",
                store()),
            Exit.DEFINITION);
    assertThat(line).contains("Images.java:5").contains("does not compile").contains("filez");
    assertThat(dir.resolve("x.tar")).doesNotExist();
  }

  @Test
  void aDefinitionThatThrows() throws Exception {
    Path f =
        write(
            "Images.java",
            GOOD.replace(
                "return ImageBuild",
                "if (true) throw new IllegalStateException(\"no base\\nimage configured\");\n    return ImageBuild"));
    String line =
        fails(
            CliRun.kiln(
                "run",
                f.toString(),
                "-t",
                "oci-archive:" + dir.resolve("x.tar"),
                "--store",
                store()),
            Exit.DEFINITION);
    assertThat(line).contains("Images").contains("IllegalStateException: no base image configured");
    assertThat(dir.resolve("x.tar")).doesNotExist();
  }

  @Test
  void aFileThatDefinesNoImage() throws Exception {
    Path f =
        write("Images.java", "public class Images { public static void main(String[] a) {} }\n");
    String line = fails(CliRun.kiln("run", f.toString(), "--store", store()), Exit.DEFINITION);
    assertThat(line).contains("defines no image").contains("dev.kiln.ImageDefinition");
  }

  @Test
  void anUnknownNameOfADefinition() throws Exception {
    Path f = write("Images.java", GOOD);
    String line =
        fails(
            CliRun.kiln("run", f.toString(), "--name", "api", "--store", store()), Exit.DEFINITION);
    assertThat(line).contains("'api'").contains("default");
  }

  @Test
  void anUnknownTarget() throws Exception {
    Path f = write("Images.java", GOOD);
    String line =
        fails(CliRun.kiln("run", f.toString(), "-t", "nosuch://x", "--store", store()), Exit.USAGE);
    assertThat(line).contains("unknown target scheme 'nosuch'");
  }

  @Test
  void aMalformedTarget() throws Exception {
    Path f = write("Images.java", GOOD);
    String line =
        fails(CliRun.kiln("run", f.toString(), "-t", "no-scheme", "--store", store()), Exit.USAGE);
    assertThat(line).contains("no-scheme");
  }

  @Test
  void aBakeThatFails() throws Exception {
    Path f =
        write(
            "Images.java",
            GOOD.replace(
                "Base.scratch()",
                "Base.rootfs(java.nio.file.Path.of(\"" + dir.resolve("missing.tar") + "\"))"));
    String line =
        fails(
            CliRun.kiln(
                "run",
                f.toString(),
                "-t",
                "oci-archive:" + dir.resolve("x.tar"),
                "--store",
                store()),
            Exit.FAILED);
    assertThat(line).contains("missing.tar").contains("does not exist");
    assertThat(dir.resolve("x.tar")).doesNotExist();
  }

  @Test
  void noStoreToRead() {
    String missing = dir.resolve("no-store").toString();
    assertThat(fails(CliRun.kiln("images", "--store", missing), Exit.NOT_FOUND))
        .contains("no Kiln store at " + missing);
    assertThat(fails(CliRun.kiln("inspect", "abcd", "--store", missing), Exit.NOT_FOUND))
        .contains("no Kiln store");
    assertThat(
            fails(
                CliRun.kiln(
                    "copy", "abcd", "oci-archive:" + dir.resolve("x.tar"), "--store", missing),
                Exit.NOT_FOUND))
        .contains("no Kiln store");
    assertThat(dir.resolve("no-store")).doesNotExist();
    assertThat(dir.resolve("x.tar")).doesNotExist();
  }

  @Test
  void aStoreThatCannotBeOpened() throws Exception {
    Path f = write("Images.java", GOOD);
    Path file = write("store-is-a-file", "x");
    String line =
        fails(CliRun.kiln("run", f.toString(), "--store", file.toString()), Exit.NOT_FOUND);
    assertThat(line).contains("cannot open the Kiln store at " + file);
    assertThat(Files.readString(file)).isEqualTo("x");
  }

  @Test
  void anImageTheStoreDoesNotHold() throws Exception {
    Path f = write("Images.java", GOOD);
    assertThat(CliRun.kiln("run", f.toString(), "--store", store()).code()).isZero();
    String line =
        fails(
            CliRun.kiln(
                "copy", "nosuch", "oci-archive:" + dir.resolve("x.tar"), "--store", store()),
            Exit.NOT_FOUND);
    assertThat(line).contains("no image 'nosuch'");
    assertThat(fails(CliRun.kiln("inspect", "0000", "--store", store()), Exit.NOT_FOUND))
        .contains("no image '0000'");
    assertThat(dir.resolve("x.tar")).doesNotExist();
  }

  @Test
  void aCopyToAnUnknownTargetSendsNothing() throws Exception {
    Path f = write("Images.java", GOOD);
    assertThat(CliRun.kiln("run", f.toString(), "--store", store()).code()).isZero();
    String line =
        fails(CliRun.kiln("copy", "images", "nosuch://x", "--store", store()), Exit.USAGE);
    assertThat(line).contains("unknown target scheme 'nosuch'");
  }

  @Test
  void aCopyFromSomethingThatIsNotALayout() {
    String line =
        fails(
            CliRun.kiln(
                "copy",
                "oci:" + dir.resolve("nothing") + ":v1",
                "oci-archive:" + dir.resolve("x.tar"),
                "--store",
                store()),
            Exit.NOT_FOUND);
    assertThat(line).contains("is not an OCI layout");
  }

  @Test
  void usageErrors() {
    assertThat(fails(CliRun.kiln("bake"), Exit.USAGE)).contains("'bake'").contains("kiln --help");
    assertThat(fails(CliRun.kiln("run"), Exit.USAGE)).contains("FILE").contains("kiln run --help");
    assertThat(fails(CliRun.kiln("run", "X.java", "--frobnicate"), Exit.USAGE))
        .contains("--frobnicate");
    assertThat(fails(CliRun.kiln("copy", "abc"), Exit.USAGE)).contains("TARGET");
    assertThat(CliRun.kiln().code()).isEqualTo(Exit.USAGE);
  }
}
