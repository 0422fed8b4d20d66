package sample.app;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.slf4j.helpers.MessageFormatter;
import sample.lib.Greeting;

/** The sample application: prints a greeting built from its snapshot library, a release library and a resource. */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws IOException {
    String banner;
    try (InputStream in = Main.class.getResourceAsStream("/sample/banner.txt")) {
      banner = new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
    }
    String who = System.getenv().getOrDefault("WHO", "Kiln");
    System.out.println(MessageFormatter.format("{} ({})", Greeting.of(who), banner).getMessage());
  }
}
