package dev.kiln.docker;

import dev.kiln.ProvisioningException;
import java.util.List;

/**
 * An Ansible layer's play failed in a task: carries the task's name (as Ansible shows it, {@code
 * role : task}), the host, and Ansible's message for it, which the exception's message repeats.
 */
public final class PlaybookFailedException extends ProvisioningException {
  private static final long serialVersionUID = 1L;
  private final String task;
  private final String host;
  private final String taskMessage;

  PlaybookFailedException(
      String layer, String task, String host, String taskMessage, int exitCode, List<String> tail) {
    super(
        layer, "task '" + task + "' failed on " + host + ": " + taskMessage, exitCode, tail, null);
    this.task = task;
    this.host = host;
    this.taskMessage = taskMessage;
  }

  /** The failed task's name, such as {@code web : write the configuration}. */
  public String task() {
    return task;
  }

  /** The inventory host it failed on ({@link dev.kiln.AnsibleLayer#HOST}). */
  public String host() {
    return host;
  }

  /**
   * Ansible's message for the failure (with the command's error output, for command-like modules).
   */
  public String taskMessage() {
    return taskMessage;
  }
}
