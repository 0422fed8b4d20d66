package sample.lib;

/** A library of the sample that changes with the app: a snapshot dependency. */
public final class Greeting {
  private Greeting() {}

  public static String of(String who) {
    return "Hello, " + who;
  }
}
