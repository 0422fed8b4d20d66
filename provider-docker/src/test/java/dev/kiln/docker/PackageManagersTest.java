package dev.kiln.docker;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class PackageManagersTest {

  @Test
  void scriptInstallsQuotedNamesAndCleansInTheSameRun() {
    String s = PackageManagers.script(List.of("curl", "libc6:amd64"));
    assertThat(s)
        .contains("apt-get install -y -q --no-install-recommends")
        .contains(" 'curl' 'libc6:amd64'")
        .contains("rm -rf /var/lib/apt/lists/*")
        .contains("/var/log/dpkg.log")
        .contains("apk add --no-cache 'curl' 'libc6:amd64'")
        .contains("dnf install -y --setopt=install_weak_deps=False")
        .contains("exit " + PackageManagers.NO_MANAGER);
  }

  @Test
  void quotesForTheShell() {
    assertThat(PackageManagers.quote("a'b")).isEqualTo("'a'\\''b'");
  }

  @Test
  void reportListsWhatTheLayerAddedOrChanged() {
    PackageManagers.Report r =
        PackageManagers.parse(
            List.of(
                "##kiln## manager apt",
                "##kiln## before installed libc6 2.36-9",
                "##kiln## before installed zlib1g 1:1.2.13",
                "##kiln## before not-installed curl 7.0",
                "##kiln## after installed libc6 2.36-9",
                "##kiln## after installed zlib1g 1:1.2.13.dfsg-1",
                "##kiln## after installed curl 7.88.1-10+deb12u12",
                "##kiln## after installed libcurl4 7.88.1-10+deb12u12"));
    assertThat(r.manager()).isEqualTo("apt");
    assertThat(r.changed())
        .containsExactly(
            java.util.Map.entry("curl", "7.88.1-10+deb12u12"),
            java.util.Map.entry("libcurl4", "7.88.1-10+deb12u12"),
            java.util.Map.entry("zlib1g", "1:1.2.13.dfsg-1"));
  }

  @Test
  void apkNamesAndVersionsAreSplitAtTheLastTwoDashes() {
    PackageManagers.Report r =
        PackageManagers.parse(
            List.of(
                "##kiln## manager apk",
                "##kiln## after installed curl-8.5.0-r0",
                "##kiln## after installed ca-certificates-bundle-20240226-r0"));
    assertThat(r.after())
        .containsEntry("curl", "8.5.0-r0")
        .containsEntry("ca-certificates-bundle", "20240226-r0");
  }
}
