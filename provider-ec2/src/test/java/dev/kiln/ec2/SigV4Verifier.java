package dev.kiln.ec2;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Checks AWS Signature Version 4 on a request the way AWS does: the Authorization header's form,
 * the credential scope (access key, date, region, service, {@code aws4_request}), that host and
 * x-amz-date are signed, the request time, the payload hash, and the signature itself, recomputed
 * from the canonical request with the secret key.
 */
final class SigV4Verifier {
  private static final DateTimeFormatter AMZ_DATE =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'");
  private static final Duration MAX_SKEW = Duration.ofMinutes(15);

  /** The outcome: the region from the credential scope, or why the request was refused. */
  record Result(boolean ok, String region, String errorCode, String message) {
    static Result ok(String region) {
      return new Result(true, region, null, null);
    }

    static Result fail(String code, String message) {
      return new Result(false, null, code, message);
    }
  }

  private final String accessKey;
  private final String secretKey;

  SigV4Verifier(String accessKey, String secretKey) {
    this.accessKey = accessKey;
    this.secretKey = secretKey;
  }

  /**
   * Verifies {@code req} as a call to {@code service}.
   *
   * @param unsignedPayloadAllowed whether {@code x-amz-content-sha256: UNSIGNED-PAYLOAD} is
   *     acceptable (EBS PutSnapshotBlock, whose body is covered by x-amz-Checksum instead)
   */
  Result verify(LoopbackHttp.Request req, String service, boolean unsignedPayloadAllowed) {
    return verify(req, service, unsignedPayloadAllowed, sha256(req.body()));
  }

  /**
   * As {@link #verify(LoopbackHttp.Request, String, boolean)}, with the body's SHA-256 already
   * computed.
   */
  Result verify(
      LoopbackHttp.Request req, String service, boolean unsignedPayloadAllowed, byte[] bodySha256) {
    String auth = req.header("Authorization");
    if (auth == null) {
      return Result.fail("MissingAuthenticationToken", "Request is missing Authentication Token");
    }
    if (!auth.startsWith("AWS4-HMAC-SHA256 ")) {
      return Result.fail("IncompleteSignature", "Unsupported signature algorithm in: " + auth);
    }
    String credential = null;
    String signedHeaders = null;
    String signature = null;
    for (String part : auth.substring("AWS4-HMAC-SHA256 ".length()).split(",")) {
      String p = part.trim();
      if (p.startsWith("Credential=")) {
        credential = p.substring("Credential=".length());
      } else if (p.startsWith("SignedHeaders=")) {
        signedHeaders = p.substring("SignedHeaders=".length());
      } else if (p.startsWith("Signature=")) {
        signature = p.substring("Signature=".length());
      }
    }
    if (credential == null || signedHeaders == null || signature == null) {
      return Result.fail(
          "IncompleteSignature",
          "Authorization header requires Credential, SignedHeaders, Signature");
    }
    String[] scope = credential.split("/");
    if (scope.length != 5) {
      return Result.fail(
          "IncompleteSignature",
          "Credential must be AK/DATE/REGION/SERVICE/aws4_request: " + credential);
    }
    if (!scope[0].equals(accessKey)) {
      return Result.fail(
          "InvalidClientTokenId",
          "The security token included in the request is invalid: " + scope[0]);
    }
    String region = scope[2];
    if (!scope[3].equals(service)) {
      return Result.fail(
          "SignatureDoesNotMatch",
          "Credential should be scoped to correct service: '"
              + service
              + "', found '"
              + scope[3]
              + "'");
    }
    if (!scope[4].equals("aws4_request")) {
      return Result.fail(
          "SignatureDoesNotMatch",
          "Credential should be scoped with a valid terminator: 'aws4_request'");
    }
    if (!region.matches("[a-z]{2,}(-[a-z0-9]+)*-[0-9]+")) {
      return Result.fail(
          "SignatureDoesNotMatch",
          "Credential should be scoped to a valid region, not '" + region + "'");
    }
    List<String> signed = Arrays.asList(signedHeaders.split(";"));
    List<String> sorted = new ArrayList<>(signed);
    sorted.sort(null);
    if (!signed.equals(sorted)
        || signed.stream().anyMatch(h -> !h.equals(h.toLowerCase(Locale.ROOT)))) {
      return Result.fail(
          "SignatureDoesNotMatch", "SignedHeaders must be lowercase and sorted: " + signedHeaders);
    }
    if (!signed.contains("host") || !signed.contains("x-amz-date")) {
      return Result.fail(
          "SignatureDoesNotMatch", "host and x-amz-date must be signed, found " + signedHeaders);
    }
    String amzDate = req.header("X-Amz-Date");
    if (amzDate == null) {
      return Result.fail("IncompleteSignature", "Authorization requires the X-Amz-Date header");
    }
    Instant when;
    try {
      when = LocalDateTime.parse(amzDate, AMZ_DATE).toInstant(ZoneOffset.UTC);
    } catch (DateTimeParseException e) {
      return Result.fail("IncompleteSignature", "bad X-Amz-Date " + amzDate);
    }
    if (!amzDate.substring(0, 8).equals(scope[1])) {
      return Result.fail(
          "SignatureDoesNotMatch",
          "Credential date " + scope[1] + " does not match X-Amz-Date " + amzDate);
    }
    if (Duration.between(when, Instant.now()).abs().compareTo(MAX_SKEW) > 0) {
      return Result.fail(
          "RequestExpired", "Signature expired: " + amzDate + " is more than 15 minutes from now");
    }
    String bodyHash = hex(bodySha256);
    String payloadHash = req.header("x-amz-content-sha256");
    if (payloadHash == null) {
      payloadHash = bodyHash;
    } else if (payloadHash.equals("UNSIGNED-PAYLOAD")) {
      if (!unsignedPayloadAllowed) {
        return Result.fail(
            "SignatureDoesNotMatch", "UNSIGNED-PAYLOAD is not accepted for this operation");
      }
    } else if (!payloadHash.equals(bodyHash)) {
      return Result.fail(
          "XAmzContentSHA256Mismatch", "x-amz-content-sha256 does not match the body");
    }
    StringBuilder canonical = new StringBuilder();
    canonical.append(req.method()).append('\n');
    canonical.append(canonicalUri(req.rawPath())).append('\n');
    canonical.append(canonicalQuery(req.rawQuery())).append('\n');
    for (String h : signed) {
      List<String> values = req.headerValues(h);
      if (values.isEmpty()) {
        return Result.fail(
            "SignatureDoesNotMatch", "signed header " + h + " is missing from the request");
      }
      canonical.append(h).append(':');
      for (int i = 0; i < values.size(); i++) {
        if (i > 0) {
          canonical.append(',');
        }
        canonical.append(values.get(i).trim().replaceAll(" +", " "));
      }
      canonical.append('\n');
    }
    canonical.append('\n').append(signedHeaders).append('\n').append(payloadHash);
    String stringToSign =
        "AWS4-HMAC-SHA256\n"
            + amzDate
            + "\n"
            + scope[1]
            + "/"
            + region
            + "/"
            + service
            + "/aws4_request\n"
            + hex(sha256(canonical.toString().getBytes(StandardCharsets.UTF_8)));
    byte[] key = hmac(("AWS4" + secretKey).getBytes(StandardCharsets.UTF_8), scope[1]);
    key = hmac(key, region);
    key = hmac(key, service);
    key = hmac(key, "aws4_request");
    String expected = hex(hmac(key, stringToSign));
    if (!MessageDigest.isEqual(
        expected.getBytes(StandardCharsets.US_ASCII),
        signature.getBytes(StandardCharsets.US_ASCII))) {
      return Result.fail(
          "SignatureDoesNotMatch",
          "The request signature we calculated does not match the signature you provided. The canonical request was:\n"
              + canonical);
    }
    return Result.ok(region);
  }

  /** The path encoded once more, as SigV4 wants for every service but S3. */
  static String canonicalUri(String rawPath) {
    if (rawPath == null || rawPath.isEmpty()) {
      return "/";
    }
    StringBuilder s = new StringBuilder();
    for (String seg : rawPath.split("/", -1)) {
      if (s.length() > 0 || rawPath.startsWith("/")) {
        s.append('/');
      }
      s.append(encode(seg));
    }
    String out = s.toString();
    return out.startsWith("//") ? out.substring(1) : out;
  }

  static String canonicalQuery(String rawQuery) {
    if (rawQuery == null || rawQuery.isEmpty()) {
      return "";
    }
    TreeMap<String, List<String>> params = new TreeMap<>();
    for (String pair : rawQuery.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String k = encode(decode(eq < 0 ? pair : pair.substring(0, eq)));
      String v = encode(decode(eq < 0 ? "" : pair.substring(eq + 1)));
      params.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
    }
    StringBuilder s = new StringBuilder();
    for (Map.Entry<String, List<String>> e : params.entrySet()) {
      List<String> vs = e.getValue();
      vs.sort(null);
      for (String v : vs) {
        if (s.length() > 0) {
          s.append('&');
        }
        s.append(e.getKey()).append('=').append(v);
      }
    }
    return s.toString();
  }

  /** RFC 3986 percent-encoding of everything but unreserved characters. */
  static String encode(String s) {
    StringBuilder out = new StringBuilder();
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if ((c >= 'A' && c <= 'Z')
          || (c >= 'a' && c <= 'z')
          || (c >= '0' && c <= '9')
          || c == '-'
          || c == '_'
          || c == '.'
          || c == '~') {
        out.append((char) c);
      } else {
        out.append('%').append(String.format("%02X", c));
      }
    }
    return out.toString();
  }

  /** Percent-decoding that leaves '+' alone (AWS clients encode a space as %20). */
  static String decode(String s) {
    byte[] out = new byte[s.length()];
    int n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%' && i + 2 < s.length()) {
        out[n++] = (byte) Integer.parseInt(s.substring(i + 1, i + 3), 16);
        i += 2;
      } else {
        out[n++] = (byte) c;
      }
    }
    return new String(out, 0, n, StandardCharsets.UTF_8);
  }

  static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  private static byte[] hmac(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
