package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RegistryCredentialsTest {

  private static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void authsByHostUrlAndDockerHubKey(@TempDir Path tmp) throws Exception {
    Path config = tmp.resolve("config.json");
    Files.writeString(
        config,
        "{\"auths\":{"
            + "\"https://registry.example:5000\":{\"auth\":\""
            + b64("alice:pa:ss")
            + "\"},"
            + "\"https://index.docker.io/v1/\":{\"auth\":\""
            + b64("hub-user:hub-pass")
            + "\"},"
            + "\"other.example\":{\"username\":\"bob\",\"password\":\"pw\"}}}");
    var a = RegistryCredentials.find("registry.example:5000", config).orElseThrow();
    assertThat(a.user()).isEqualTo("alice");
    assertThat(a.secret()).isEqualTo("pa:ss");
    assertThat(a.basic()).isEqualTo("Basic " + b64("alice:pa:ss"));
    assertThat(RegistryCredentials.find("docker.io", config).orElseThrow().user())
        .isEqualTo("hub-user");
    assertThat(RegistryCredentials.find("other.example", config).orElseThrow().secret())
        .isEqualTo("pw");
    assertThat(RegistryCredentials.find("unknown.example", config)).isEmpty();
    assertThat(RegistryCredentials.find("x", tmp.resolve("missing.json"))).isEmpty();
  }

  @Test
  void credentialHelpersAreAskedFirst(@TempDir Path tmp) throws Exception {
    Path helper = tmp.resolve("docker-credential-fake");
    Files.writeString(
        helper,
        "#!/bin/sh\nread server\n"
            + "if [ \"$1\" = get ] && [ \"$server\" = registry.example ]; then\n"
            + "  echo '{\"ServerURL\":\"registry.example\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret\"}'\n"
            + "else echo 'credentials not found in native keychain'; exit 1; fi\n");
    Files.setPosixFilePermissions(helper, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path config = tmp.resolve("config.json");
    Files.writeString(
        config,
        "{\"credHelpers\":{\"registry.example\":\"fake\"},"
            + "\"auths\":{\"registry.example\":{\"auth\":\""
            + b64("stale:stale")
            + "\"},\"plain.example\":{\"auth\":\""
            + b64("p:q")
            + "\"}}}");
    var c = RegistryCredentials.find("registry.example", config, tmp).orElseThrow();
    assertThat(c.user()).isEqualTo("helper-user");
    assertThat(c.secret()).isEqualTo("helper-secret");
    assertThat(c.toString()).doesNotContain("helper-secret");
    Files.writeString(
        config,
        "{\"credsStore\":\"fake\",\"auths\":{\"plain.example\":{\"auth\":\""
            + b64("p:q")
            + "\"}}}");
    // the store has nothing for this registry: auths answers
    assertThat(RegistryCredentials.find("plain.example", config, tmp).orElseThrow().user())
        .isEqualTo("p");
  }
}
