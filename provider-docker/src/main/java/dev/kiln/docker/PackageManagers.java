package dev.kiln.docker;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The shell script a {@code packages} layer runs: it finds the image's package manager (apt, dnf,
 * yum or apk, in that order), lists the installed packages, installs the requested ones
 * non-interactively without recommended or weak dependencies, removes the package manager's caches,
 * lists and logs in the same layer (so none of them is ever part of the image, and the layer does
 * not change from run to run because of them), and lists the installed packages again. The lists
 * are printed as marker lines that the provisioner reads and hides. Thread-safe (stateless).
 */
final class PackageManagers {
  static final String MARKER = "##kiln## ";

  /** Exit code of the script when the image has no package manager it knows. */
  static final int NO_MANAGER = 97;

  private PackageManagers() {}

  static String script(List<String> packages) {
    StringBuilder names = new StringBuilder();
    for (String p : packages) {
      names.append(' ').append(quote(p));
    }
    String n = names.toString();
    return String.join(
        "\n",
        "if command -v apt-get >/dev/null 2>&1 && [ -d /var/lib/dpkg ]; then kiln_pm=apt",
        "elif command -v dnf >/dev/null 2>&1; then kiln_pm=dnf",
        "elif command -v yum >/dev/null 2>&1; then kiln_pm=yum",
        "elif command -v apk >/dev/null 2>&1; then kiln_pm=apk",
        "else echo '" + MARKER + "manager none'; exit " + NO_MANAGER + "; fi",
        "echo \"" + MARKER + "manager $kiln_pm\"",
        "kiln_list() {",
        "  case $kiln_pm in",
        "    apt) dpkg-query -W -f='${db:Status-Status} ${Package} ${Version}\\n' ;;",
        "    dnf|yum) rpm -qa --qf 'installed %{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n' ;;",
        "    apk) apk info -v | sed 's/^/installed /' ;;",
        "  esac | sed \"s/^/" + MARKER + "$1 /\"",
        "}",
        "kiln_list before",
        "case $kiln_pm in",
        "  apt)",
        "    export DEBIAN_FRONTEND=noninteractive",
        "    apt-get update -q",
        "    apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef"
            + " -o Dpkg::Options::=--force-confold"
            + n,
        "    kiln_rc=$?",
        "    apt-get clean",
        "    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb"
            + " /var/cache/apt/archives/partial/* /var/log/dpkg.log /var/log/apt/* /var/log/alternatives.log"
            + " /var/cache/ldconfig/aux-cache /var/cache/debconf/*-old /var/lib/dpkg/*-old ;;",
        "  dnf)",
        "    dnf install -y --setopt=install_weak_deps=False --setopt=tsflags=nodocs" + n,
        "    kiln_rc=$?",
        "    dnf clean all",
        "    rm -rf /var/cache/dnf /var/cache/yum /var/log/dnf* /var/log/hawkey.log /var/lib/dnf/history* ;;",
        "  yum)",
        "    yum install -y --setopt=tsflags=nodocs" + n,
        "    kiln_rc=$?",
        "    yum clean all",
        "    rm -rf /var/cache/yum /var/log/yum.log ;;",
        "  apk)",
        "    apk add --no-cache" + n,
        "    kiln_rc=$?",
        "    rm -rf /var/cache/apk/* ;;",
        "esac",
        "[ \"$kiln_rc\" -eq 0 ] || exit $kiln_rc",
        "kiln_list after");
  }

  /**
   * Single-quotes a word for sh. Package names are checked to hold no quote, but quoting costs
   * nothing.
   */
  static String quote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }

  /**
   * What the marker lines said: the manager and the packages installed before and after, name →
   * version.
   */
  record Report(String manager, Map<String, String> before, Map<String, String> after) {
    /** Packages the layer added or changed, name → version. */
    Map<String, String> changed() {
      Map<String, String> m = new TreeMap<>();
      after.forEach(
          (k, v) -> {
            if (!v.equals(before.get(k))) {
              m.put(k, v);
            }
          });
      return m;
    }
  }

  static Report parse(List<String> markerLines) {
    String manager = "";
    Map<String, String> before = new TreeMap<>();
    Map<String, String> after = new TreeMap<>();
    for (String line : markerLines) {
      if (!line.startsWith(MARKER)) {
        continue;
      }
      String[] f = line.substring(MARKER.length()).trim().split("\\s+");
      if (f.length >= 2 && f[0].equals("manager")) {
        manager = f[1];
        continue;
      }
      // before|after STATUS NAME VERSION (apk: before|after installed NAME-VERSION)
      if (f.length < 3 || !f[1].equals("installed")) {
        continue;
      }
      Map<String, String> m = f[0].equals("before") ? before : f[0].equals("after") ? after : null;
      if (m == null) {
        continue;
      }
      if (f.length >= 4) {
        m.put(f[2], f[3]);
      } else if (manager.equals("apk")) {
        String[] nv = splitApk(f[2]);
        m.put(nv[0], nv[1]);
      }
    }
    return new Report(manager, before, after);
  }

  /**
   * {@code curl-8.5.0-r0} → {@code curl}, {@code 8.5.0-r0}: apk versions are the last two
   * dash-separated parts.
   */
  static String[] splitApk(String nameVersion) {
    int last = nameVersion.lastIndexOf('-');
    int prev = last > 0 ? nameVersion.lastIndexOf('-', last - 1) : -1;
    if (prev <= 0) {
      return new String[] {nameVersion, ""};
    }
    return new String[] {nameVersion.substring(0, prev), nameVersion.substring(prev + 1)};
  }
}
