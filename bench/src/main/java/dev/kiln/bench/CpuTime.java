package dev.kiln.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * CPU time, which a busy machine does not stretch as it stretches wall time: this JVM's (all its
 * threads), what its waited-for child processes used, and another process's from {@code
 * /proc/PID/stat} (user + system, in clock ticks of {@code getconf CLK_TCK}). Linux only.
 */
final class CpuTime {
  private CpuTime() {}

  /** Nanoseconds per clock tick of {@code /proc/PID/stat}. */
  static final long NANOS_PER_TICK = 1_000_000_000L / clockTicks();

  private static long clockTicks() {
    try {
      Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (p.waitFor() != 0) {
        throw new IllegalStateException("getconf CLK_TCK failed: " + out);
      }
      return Long.parseLong(out);
    } catch (IOException e) {
      throw new IllegalStateException("getconf CLK_TCK", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("getconf CLK_TCK", e);
    }
  }

  /** This JVM's CPU time so far, every thread (process CPU time of the platform MXBean). */
  static long jvm() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /**
   * The CPU time of this JVM's child processes that have ended and been waited for ({@code cutime +
   * cstime}): the difference around a {@code Process#waitFor} is what that command used.
   */
  static long children() throws IOException {
    long[] f = stat(Path.of("/proc/self/stat"));
    return (f[2] + f[3]) * NANOS_PER_TICK;
  }

  /** The CPU time a running process has used so far ({@code utime + stime}). */
  static long process(long pid) throws IOException {
    long[] f = stat(Path.of("/proc/" + pid + "/stat"));
    return (f[0] + f[1]) * NANOS_PER_TICK;
  }

  /**
   * The CPU time so far of every process whose command name ({@code /proc/PID/comm}) is one of
   * {@code names}, by pid. Processes that end while the directory is read are left out.
   */
  static Map<Long, Long> byName(Set<String> names) throws IOException {
    Map<Long, Long> cpu = new HashMap<>();
    try (Stream<Path> s = Files.list(Path.of("/proc"))) {
      for (Path dir : s.filter(d -> d.getFileName().toString().matches("[0-9]+")).toList()) {
        try {
          if (names.contains(Files.readString(dir.resolve("comm")).strip())) {
            long pid = Long.parseLong(dir.getFileName().toString());
            cpu.put(pid, process(pid));
          }
        } catch (NoSuchFileException e) {
          // ended meanwhile
        }
      }
    }
    return cpu;
  }

  /**
   * utime, stime, cutime, cstime of a {@code /proc/PID/stat} (fields 14–17), read after the command
   * name's closing parenthesis, since the name may hold spaces and parentheses.
   */
  private static long[] stat(Path file) throws IOException {
    String s = Files.readString(file);
    String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
    // f[0] is field 3 (state): field n is f[n - 3]
    return new long[] {
      Long.parseLong(f[11]), Long.parseLong(f[12]), Long.parseLong(f[13]), Long.parseLong(f[14])
    };
  }
}
