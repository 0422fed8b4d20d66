package dev.kiln;

import com.google.common.base.Splitter;
import com.google.common.collect.ImmutableListMultimap;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * A target as written: scheme, reference and (for {@code scheme://} targets) query parameters.
 * {@code ec2://eu-west-1/web?share=1234&tag.team=x} has scheme {@code ec2}, reference {@code
 * eu-west-1/web} and two parameters; {@code oci:/tmp/out:v1} has scheme {@code oci} and reference
 * {@code /tmp/out:v1}.
 */
public record UriTarget(
    String scheme,
    String reference,
    boolean hierarchical,
    ImmutableListMultimap<String, String> params)
    implements Target {
  private static final Pattern SCHEME = Pattern.compile("[a-z][a-z0-9+.-]*");

  /** Parses a target string; see {@link Target#parse}. */
  public static UriTarget parse(String s) {
    if (s == null || s.isBlank()) {
      throw new InvalidTargetException(
          "empty target: expected SCHEME:REFERENCE such as oci-archive:image.tar");
    }
    int colon = s.indexOf(':');
    if (colon <= 0 || !SCHEME.matcher(s.substring(0, colon)).matches()) {
      throw new InvalidTargetException(
          "target '"
              + s
              + "' has no scheme: expected SCHEME:REFERENCE such as oci:DIR:TAG or docker://HOST/REPO:TAG");
    }
    String scheme = s.substring(0, colon);
    String rest = s.substring(colon + 1);
    ImmutableListMultimap.Builder<String, String> params = ImmutableListMultimap.builder();
    boolean hierarchical = rest.startsWith("//");
    if (hierarchical) {
      rest = rest.substring(2);
      int q = rest.indexOf('?');
      if (q >= 0) {
        for (String kv : Splitter.on('&').omitEmptyStrings().split(rest.substring(q + 1))) {
          int eq = kv.indexOf('=');
          String k = eq < 0 ? kv : kv.substring(0, eq);
          String v = eq < 0 ? "" : kv.substring(eq + 1);
          params.put(decode(k), decode(v));
        }
        rest = rest.substring(0, q);
      }
    }
    if (rest.isEmpty()) {
      throw new InvalidTargetException(
          "target '" + s + "' has an empty reference after '" + scheme + ":'");
    }
    return new UriTarget(scheme, rest, hierarchical, params.build());
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }

  /** The last value of a parameter, or {@code null}. */
  public String param(String name) {
    var values = params.get(name);
    return values.isEmpty() ? null : values.get(values.size() - 1);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(scheme).append(':');
    if (hierarchical) {
      sb.append("//");
    }
    sb.append(reference);
    if (!params.isEmpty()) {
      sb.append('?');
      boolean first = true;
      for (var e : params.entries()) {
        if (!first) {
          sb.append('&');
        }
        first = false;
        sb.append(e.getKey()).append('=').append(e.getValue());
      }
    }
    return sb.toString();
  }
}
