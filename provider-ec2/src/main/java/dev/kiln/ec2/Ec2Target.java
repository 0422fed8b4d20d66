package dev.kiln.ec2;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import dev.kiln.InvalidTargetException;
import dev.kiln.Target;
import dev.kiln.disk.DiskOptions;
import dev.kiln.disk.DiskParameters;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;

/**
 * Where and how an image is published as an EC2 AMI: region, AMI name, sharing, copies, tags, the
 * root volume and instance metadata options the AMI is registered with, and the {@link DiskOptions}
 * of the disk its snapshot holds.
 *
 * <p>Written as {@code ec2://REGION/NAME?share=ACCOUNT&tag.K=V&copyTo=REGION} or built in code:
 *
 * <pre>{@code
 * Ec2Target t = Ec2Target.of("eu-west-1", "web")
 *     .share("123456789012", "arn:aws:organizations::111122223333:organization/o-abc123")
 *     .copyTo("us-east-1")
 *     .tag("team", "platform");
 * }</pre>
 *
 * <p>An empty region ({@code ec2:///web}) means the SDK's default region chain (AWS_REGION,
 * profile, instance metadata). Credentials are not part of the URI: the SDK's default chain is used
 * unless {@link #credentials(AwsCredentialsProvider)} sets a provider.
 *
 * <p>Immutable and thread-safe.
 */
public final class Ec2Target implements Target {
  /** The URI scheme. */
  public static final String SCHEME = "ec2";

  private static final Pattern REGION = Pattern.compile("[a-z]{2,}(-[a-z0-9]+)*-[0-9]+");
  private static final Pattern ACCOUNT = Pattern.compile("[0-9]{12}");
  private static final Pattern ORGANIZATION =
      Pattern.compile("arn:aws[a-z-]*:organizations::[0-9]{12}:organization/o-[a-z0-9]{10,32}");
  private static final Pattern ORGANIZATIONAL_UNIT =
      Pattern.compile(
          "arn:aws[a-z-]*:organizations::[0-9]{12}:ou/o-[a-z0-9]{10,32}/ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}");
  // AMI names: 3-128 characters from this set; Kiln appends "-" and 12 hex digits.
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9()\\[\\] ./\\-'@_]{3,115}");
  private static final Set<String> VOLUME_TYPES =
      Set.of("gp3", "gp2", "io1", "io2", "st1", "sc1", "standard");
  private static final Set<String> ARCHITECTURES =
      Set.of("x86_64", "arm64", "i386", "x86_64_mac", "arm64_mac");
  private static final Set<String> BOOT_MODES = Set.of("uefi", "legacy-bios", "uefi-preferred");
  private static final Set<String> KNOWN_PARAMS =
      Set.of(
          "share",
          "copyTo",
          "volumeType",
          "size",
          "deleteOnTermination",
          "imds",
          "tpm",
          "arch",
          "bootMode",
          "endpoint",
          "ec2Endpoint",
          "ebsEndpoint",
          "attestations",
          "s3Endpoint");
  private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
  private static final Pattern PREFIX = Pattern.compile("[A-Za-z0-9!_.*'()/-]{0,512}");

  private final Optional<String> region;
  private final String name;
  private final ImmutableList<String> shareAccounts;
  private final ImmutableList<String> shareOrganizations;
  private final ImmutableList<String> shareOrganizationalUnits;
  private final ImmutableList<String> copyRegions;
  private final ImmutableMap<String, String> tags;
  private final String volumeType;
  private final OptionalInt rootVolumeSizeGiB;
  private final boolean deleteOnTermination;
  private final boolean imdsV2Required;
  private final boolean tpm;
  private final String architecture;
  private final String bootMode;
  private final Optional<URI> ec2Endpoint;
  private final Optional<URI> ebsEndpoint;
  private final Optional<String> attestations;
  private final Optional<URI> s3Endpoint;
  private final Optional<AwsCredentialsProvider> credentials;
  private final DiskOptions diskOptions;

  private Ec2Target(Builder b) {
    this.region = b.region;
    this.name = b.name;
    this.shareAccounts = ImmutableList.copyOf(b.shareAccounts);
    this.shareOrganizations = ImmutableList.copyOf(b.shareOrganizations);
    this.shareOrganizationalUnits = ImmutableList.copyOf(b.shareOrganizationalUnits);
    this.copyRegions = ImmutableList.copyOf(b.copyRegions);
    this.tags = ImmutableMap.copyOf(b.tags);
    this.volumeType = b.volumeType;
    this.rootVolumeSizeGiB = b.rootVolumeSizeGiB;
    this.deleteOnTermination = b.deleteOnTermination;
    this.imdsV2Required = b.imdsV2Required;
    this.tpm = b.tpm;
    this.architecture = b.architecture;
    this.bootMode = b.bootMode;
    this.ec2Endpoint = b.ec2Endpoint;
    this.ebsEndpoint = b.ebsEndpoint;
    this.attestations = b.attestations;
    this.s3Endpoint = b.s3Endpoint;
    this.credentials = b.credentials;
    this.diskOptions = b.diskOptions;
    if (tpm && !"uefi".equals(bootMode)) {
      throw invalid(
          "tpm=true expects bootMode=uefi (NitroTPM works only with UEFI), found bootMode="
              + bootMode);
    }
    for (String r : copyRegions) {
      if (region.isPresent() && r.equals(region.get())) {
        throw invalid("copyTo= expects regions other than the target's own, found " + r);
      }
    }
  }

  /** A target in {@code region} for AMIs named {@code name-<12 hex of the image digest>}. */
  public static Ec2Target of(String region, String name) {
    Builder b = new Builder();
    b.region = Optional.of(checkRegion(region));
    b.name = checkName(name);
    return new Ec2Target(b);
  }

  /**
   * A target in the region the SDK's default region chain names (AWS_REGION, profile, instance
   * metadata).
   */
  public static Ec2Target inDefaultRegion(String name) {
    Builder b = new Builder();
    b.name = checkName(name);
    return new Ec2Target(b);
  }

  /**
   * Parses {@code ec2://REGION/NAME[?param=value&...]}. Parameters: {@code share} (account id,
   * organization or OU ARN; repeatable), {@code copyTo} (region; repeatable), {@code
   * tag.KEY=VALUE}, {@code volumeType} (gp3), {@code size} (root volume GiB), {@code
   * deleteOnTermination} (true), {@code imds} ({@code v2} (default) or {@code optional}), {@code
   * tpm} (false), {@code arch} ({@code x86_64}, the default, or {@code arm64} for Graviton: the
   * image's platform must be linux/amd64 or linux/arm64 to match), {@code bootMode} (uefi, the only
   * one for now), {@code endpoint} (both EC2 and EBS), {@code ec2Endpoint}, {@code ebsEndpoint},
   * {@code attestations} ({@code s3://BUCKET[/PREFIX]}: where a signed bake publishes the AMI's
   * documents and signatures by digest), {@code s3Endpoint}, and the disk's options {@code
   * disk.NAME} ({@link DiskParameters}).
   *
   * @throws InvalidTargetException when the string is not such a URI, with what was expected and
   *     what was found
   */
  public static Ec2Target parse(String target) {
    if (target == null || !target.startsWith(SCHEME + "://")) {
      throw new InvalidTargetException(
          "expected ec2://REGION/NAME[?share=ACCOUNT&tag.K=V&copyTo=REGION], found " + target);
    }
    String rest = target.substring((SCHEME + "://").length());
    String query = null;
    int q = rest.indexOf('?');
    if (q >= 0) {
      query = rest.substring(q + 1);
      rest = rest.substring(0, q);
    }
    int slash = rest.indexOf('/');
    if (slash < 0) {
      throw new InvalidTargetException(
          "expected ec2://REGION/NAME (or ec2:///NAME for the default region), found " + target);
    }
    String regionPart = rest.substring(0, slash);
    String namePart = decode(rest.substring(slash + 1), target);
    Builder b = new Builder();
    DiskParameters disk = DiskParameters.create();
    try {
      b.region = regionPart.isEmpty() ? Optional.empty() : Optional.of(checkRegion(regionPart));
      b.name = checkName(namePart);
    } catch (InvalidTargetException e) {
      throw new InvalidTargetException(target + ": " + e.getMessage());
    }
    if (query != null && !query.isEmpty()) {
      for (String pair : query.split("&")) {
        if (pair.isEmpty()) {
          continue;
        }
        int eq = pair.indexOf('=');
        String key = decode(eq < 0 ? pair : pair.substring(0, eq), target);
        String value = eq < 0 ? "" : decode(pair.substring(eq + 1), target);
        try {
          if (DiskParameters.isDiskParameter(key)) {
            disk.put(key, value);
          } else {
            b.apply(key, value);
          }
        } catch (InvalidTargetException e) {
          throw new InvalidTargetException(target + ": " + e.getMessage());
        }
      }
    }
    b.diskOptions = disk.options();
    try {
      return new Ec2Target(b);
    } catch (InvalidTargetException e) {
      throw new InvalidTargetException(target + ": " + e.getMessage());
    }
  }

  /**
   * The EC2 target a core {@link Target} names: itself when it is one, else its string parsed.
   *
   * @throws InvalidTargetException when it is not a valid {@code ec2://} target
   */
  public static Ec2Target from(Target target) {
    if (target instanceof Ec2Target) {
      return (Ec2Target) target;
    }
    return parse(target.toString());
  }

  /** {@value #SCHEME}. */
  @Override
  public String scheme() {
    return SCHEME;
  }

  /** The region, or empty for the SDK's default region chain. */
  public Optional<String> region() {
    return region;
  }

  /** The AMI name prefix; the AMI is named {@code name-<12 hex of the image digest>}. */
  public String name() {
    return name;
  }

  /** The AMI name for an image digest: {@code NAME-<12 hex>}. */
  public String amiName(dev.kiln.Digest imageDigest) {
    return name + "-" + imageDigest.shortHex();
  }

  /** Account ids given launch permission (and create-volume permission on the snapshot). */
  public List<String> shareAccounts() {
    return shareAccounts;
  }

  /** Organization ARNs given launch permission. */
  public List<String> shareOrganizations() {
    return shareOrganizations;
  }

  /** Organizational unit ARNs given launch permission. */
  public List<String> shareOrganizationalUnits() {
    return shareOrganizationalUnits;
  }

  /** Regions the AMI is copied to (CopyImage), in order. */
  public List<String> copyRegions() {
    return copyRegions;
  }

  /** User tags put on the AMI and its snapshot, besides Kiln's own {@code kiln:*} tags. */
  public Map<String, String> tags() {
    return tags;
  }

  /** The root volume's EBS type, {@code gp3} by default. */
  public String volumeType() {
    return volumeType;
  }

  /** The root volume size in GiB, if set; otherwise the snapshot's size. */
  public OptionalInt rootVolumeSizeGiB() {
    return rootVolumeSizeGiB;
  }

  /** Whether the root volume is deleted when the instance terminates (true by default). */
  public boolean deleteOnTermination() {
    return deleteOnTermination;
  }

  /**
   * Whether instances launched from the AMI require IMDSv2 (true by default: {@code
   * ImdsSupport=v2.0}).
   */
  public boolean imdsV2Required() {
    return imdsV2Required;
  }

  /** Whether the AMI declares NitroTPM 2.0 support (false by default). */
  public boolean tpm() {
    return tpm;
  }

  /**
   * The platform of the images this target registers: {@code linux/amd64} for {@code x86_64},
   * {@code linux/arm64} for {@code arm64}.
   */
  public dev.kiln.Platform platform() {
    return architecture.equals("arm64")
        ? dev.kiln.Platform.LINUX_ARM64
        : dev.kiln.Platform.LINUX_AMD64;
  }

  /** The architecture, {@code x86_64} by default. */
  public String architecture() {
    return architecture;
  }

  /** The boot mode, {@code uefi} by default. */
  public String bootMode() {
    return bootMode;
  }

  /** The EC2 endpoint, when not the region's public one (tests, VPC endpoints). */
  public Optional<URI> ec2Endpoint() {
    return ec2Endpoint;
  }

  /** The EBS direct APIs endpoint, when not the region's public one (tests, VPC endpoints). */
  public Optional<URI> ebsEndpoint() {
    return ebsEndpoint;
  }

  /** How the disk the AMI's snapshot holds is laid out: size, free space, kernel arguments, … */
  public DiskOptions diskOptions() {
    return diskOptions;
  }

  /** The credentials provider passed in code; empty means the SDK's default chain. */
  public Optional<AwsCredentialsProvider> credentials() {
    return credentials;
  }

  /**
   * Adds principals to share with: 12-digit account ids, organization ARNs ({@code
   * arn:aws:organizations::ACCOUNT:organization/o-...}) or organizational unit ARNs ({@code
   * .../ou/o-.../ou-...}).
   */
  public Ec2Target share(String... principals) {
    Builder b = toBuilder();
    for (String p : principals) {
      b.apply("share", p);
    }
    return new Ec2Target(b);
  }

  /** Adds regions to copy the AMI to. */
  public Ec2Target copyTo(String... regions) {
    Builder b = toBuilder();
    for (String r : regions) {
      b.apply("copyTo", r);
    }
    return new Ec2Target(b);
  }

  /**
   * Adds (or replaces) a user tag. Keys starting with {@code kiln:} or {@code aws:} are reserved.
   */
  public Ec2Target tag(String key, String value) {
    Builder b = toBuilder();
    b.apply("tag." + key, value);
    return new Ec2Target(b);
  }

  /** Sets the root volume type (gp3, gp2, io1, io2, st1, sc1, standard). */
  public Ec2Target volumeType(String type) {
    Builder b = toBuilder();
    b.apply("volumeType", type);
    return new Ec2Target(b);
  }

  /** Sets the root volume size in GiB; it must be at least the snapshot's size. */
  public Ec2Target rootVolumeSizeGiB(int gib) {
    Builder b = toBuilder();
    b.apply("size", Integer.toString(gib));
    return new Ec2Target(b);
  }

  /** Sets whether the root volume is deleted on termination. */
  public Ec2Target deleteOnTermination(boolean delete) {
    Builder b = toBuilder();
    b.deleteOnTermination = delete;
    return new Ec2Target(b);
  }

  /**
   * Sets whether IMDSv2 is required ({@code ImdsSupport=v2.0}); false leaves the instance's choice
   * open.
   */
  public Ec2Target imdsV2Required(boolean required) {
    Builder b = toBuilder();
    b.imdsV2Required = required;
    return new Ec2Target(b);
  }

  /** Sets whether the AMI declares NitroTPM 2.0 support (needs UEFI boot). */
  public Ec2Target tpm(boolean tpmSupport) {
    Builder b = toBuilder();
    b.tpm = tpmSupport;
    return new Ec2Target(b);
  }

  /**
   * Sets the architecture: {@code x86_64} (the default) for linux/amd64 images, {@code arm64}
   * (Graviton) for linux/arm64 images; an image of the other platform is refused before anything is
   * uploaded.
   *
   * @throws InvalidTargetException for any other architecture ({@code i386}, {@code x86_64_mac}, …)
   */
  public Ec2Target architecture(String arch) {
    Builder b = toBuilder();
    b.apply("arch", arch);
    return new Ec2Target(b);
  }

  /**
   * Sets the boot mode. Only {@code uefi} for now: the disks Kiln builds have no legacy BIOS boot
   * code, so {@code legacy-bios} and {@code uefi-preferred} (BIOS on instance types without UEFI)
   * would not boot.
   *
   * @throws InvalidTargetException for any other boot mode
   */
  public Ec2Target bootMode(String mode) {
    Builder b = toBuilder();
    b.apply("bootMode", mode);
    return new Ec2Target(b);
  }

  /** Sends both EC2 and EBS calls to this endpoint (a test server, a proxy). */
  public Ec2Target endpoint(URI endpoint) {
    Builder b = toBuilder();
    b.ec2Endpoint = Optional.of(checkEndpoint(endpoint));
    b.ebsEndpoint = Optional.of(endpoint);
    return new Ec2Target(b);
  }

  /** Sends EC2 calls to this endpoint (e.g. an interface VPC endpoint). */
  public Ec2Target ec2Endpoint(URI endpoint) {
    Builder b = toBuilder();
    b.ec2Endpoint = Optional.of(checkEndpoint(endpoint));
    return new Ec2Target(b);
  }

  /**
   * With a signer ({@code Kiln.builder().signWith}), also publishes the AMI's SBOMs, provenance,
   * their signed envelopes and the AMI's signatures to {@code s3://BUCKET[/PREFIX]}, each as {@code
   * PREFIX/sha256/<hex>} (the digest an AMI tag names), in the target's region with its
   * credentials.
   *
   * @throws InvalidTargetException when it is not such a location
   */
  public Ec2Target attestations(String location) {
    Builder b = toBuilder();
    b.apply("attestations", location);
    return new Ec2Target(b);
  }

  /** Where the AMI's documents are published, {@code s3://BUCKET[/PREFIX]}, if anywhere. */
  public Optional<String> attestations() {
    return attestations;
  }

  /** The bucket of {@link #attestations()}. */
  Optional<String> attestationsBucket() {
    return attestations.map(a -> a.substring("s3://".length()).split("/", 2)[0]);
  }

  /** The key of the object holding the document {@code digest} in {@link #attestations()}. */
  Optional<String> attestationsKey(dev.kiln.Digest digest) {
    return attestations.map(
        a -> {
          String[] bucketAndPrefix = a.substring("s3://".length()).split("/", 2);
          String prefix = bucketAndPrefix.length > 1 ? bucketAndPrefix[1] + "/" : "";
          return prefix + "sha256/" + digest.hex();
        });
  }

  /** Sends S3 calls (of {@link #attestations(String)}) to this endpoint, path-style. */
  public Ec2Target s3Endpoint(URI endpoint) {
    Builder b = toBuilder();
    b.s3Endpoint = Optional.of(checkEndpoint(endpoint));
    return new Ec2Target(b);
  }

  /** The S3 endpoint override, if any. */
  public Optional<URI> s3Endpoint() {
    return s3Endpoint;
  }

  /** Sends EBS direct API calls to this endpoint (e.g. an interface VPC endpoint). */
  public Ec2Target ebsEndpoint(URI endpoint) {
    Builder b = toBuilder();
    b.ebsEndpoint = Optional.of(checkEndpoint(endpoint));
    return new Ec2Target(b);
  }

  /**
   * Sets how the disk is built (its size, free space, kernel arguments, …); {@code disk.NAME}
   * parameters in the URI. The root volume ({@link #rootVolumeSizeGiB}) must be at least the disk's
   * size.
   */
  public Ec2Target diskOptions(DiskOptions options) {
    Builder b = toBuilder();
    b.diskOptions = Objects.requireNonNull(options, "options");
    return new Ec2Target(b);
  }

  /**
   * @deprecated use {@link #diskOptions(DiskOptions)}
   */
  @Deprecated(since = "0.2")
  public Ec2Target withDiskOptions(DiskOptions options) {
    return diskOptions(options);
  }

  /** Uses these credentials instead of the SDK's default chain. */
  public Ec2Target credentials(AwsCredentialsProvider provider) {
    Builder b = toBuilder();
    b.credentials = Optional.of(Objects.requireNonNull(provider, "provider"));
    return new Ec2Target(b);
  }

  /** The canonical URI form; {@code parse(t.toUri())} equals {@code t} except for credentials. */
  public String toUri() {
    StringBuilder s = new StringBuilder(SCHEME).append("://").append(region.orElse("")).append('/');
    s.append(encode(name));
    List<String> params = new ArrayList<>();
    shareAccounts.forEach(a -> params.add("share=" + encode(a)));
    shareOrganizations.forEach(a -> params.add("share=" + encode(a)));
    shareOrganizationalUnits.forEach(a -> params.add("share=" + encode(a)));
    copyRegions.forEach(r -> params.add("copyTo=" + r));
    tags.forEach((k, v) -> params.add("tag." + encode(k) + "=" + encode(v)));
    if (!volumeType.equals("gp3")) {
      params.add("volumeType=" + volumeType);
    }
    rootVolumeSizeGiB.ifPresent(g -> params.add("size=" + g));
    if (!deleteOnTermination) {
      params.add("deleteOnTermination=false");
    }
    if (!imdsV2Required) {
      params.add("imds=optional");
    }
    if (tpm) {
      params.add("tpm=true");
    }
    if (!architecture.equals("x86_64")) {
      params.add("arch=" + architecture);
    }
    if (!bootMode.equals("uefi")) {
      params.add("bootMode=" + bootMode);
    }
    ec2Endpoint.ifPresent(e -> params.add("ec2Endpoint=" + encode(e.toString())));
    ebsEndpoint.ifPresent(e -> params.add("ebsEndpoint=" + encode(e.toString())));
    attestations.ifPresent(a -> params.add("attestations=" + encode(a)));
    s3Endpoint.ifPresent(e -> params.add("s3Endpoint=" + encode(e.toString())));
    params.addAll(DiskParameters.toParameters(diskOptions));
    if (!params.isEmpty()) {
      s.append('?').append(String.join("&", params));
    }
    return s.toString();
  }

  @Override
  public String toString() {
    return toUri();
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Ec2Target)) {
      return false;
    }
    Ec2Target t = (Ec2Target) o;
    return toUri().equals(t.toUri()) && credentials.equals(t.credentials);
  }

  @Override
  public int hashCode() {
    return toUri().hashCode();
  }

  private Builder toBuilder() {
    Builder b = new Builder();
    b.region = region;
    b.name = name;
    b.shareAccounts.addAll(shareAccounts);
    b.shareOrganizations.addAll(shareOrganizations);
    b.shareOrganizationalUnits.addAll(shareOrganizationalUnits);
    b.copyRegions.addAll(copyRegions);
    b.tags.putAll(tags);
    b.volumeType = volumeType;
    b.rootVolumeSizeGiB = rootVolumeSizeGiB;
    b.deleteOnTermination = deleteOnTermination;
    b.imdsV2Required = imdsV2Required;
    b.tpm = tpm;
    b.architecture = architecture;
    b.bootMode = bootMode;
    b.ec2Endpoint = ec2Endpoint;
    b.ebsEndpoint = ebsEndpoint;
    b.attestations = attestations;
    b.s3Endpoint = s3Endpoint;
    b.credentials = credentials;
    b.diskOptions = diskOptions;
    return b;
  }

  private static String checkRegion(String region) {
    if (region == null || !REGION.matcher(region).matches()) {
      throw invalid("expected an AWS region such as eu-west-1, found '" + region + "'");
    }
    return region;
  }

  private static String checkName(String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw invalid(
          "expected an AMI name of 3-115 characters from letters, digits, spaces and ( ) [ ] . / - ' @ _ "
              + "(Kiln appends -<12 hex>), found '"
              + name
              + "'");
    }
    return name;
  }

  /** {@code s3://BUCKET[/PREFIX]}, without a trailing slash. */
  private static String checkAttestations(String value) {
    String expected =
        "expected attestations=s3://BUCKET[/PREFIX] (a bucket name of 3-63 lowercase letters, digits,"
            + " dots and hyphens; a prefix of letters, digits and !_.*'()/-), found '"
            + value
            + "'";
    if (value == null || !value.startsWith("s3://")) {
      throw invalid(expected);
    }
    String[] parts = value.substring("s3://".length()).split("/", 2);
    String prefix = parts.length > 1 ? parts[1].replaceAll("/+$", "") : "";
    if (!BUCKET.matcher(parts[0]).matches()
        || !PREFIX.matcher(prefix).matches()
        || prefix.startsWith("/")
        || prefix.contains("//")
        || java.util.Arrays.asList(prefix.split("/")).contains("..")) {
      throw invalid(expected);
    }
    return "s3://" + parts[0] + (prefix.isEmpty() ? "" : "/" + prefix);
  }

  private static URI checkEndpoint(URI endpoint) {
    Objects.requireNonNull(endpoint, "endpoint");
    if (endpoint.getScheme() == null
        || !(endpoint.getScheme().equals("http") || endpoint.getScheme().equals("https"))
        || endpoint.getHost() == null) {
      throw invalid("expected an http(s)://HOST[:PORT] endpoint, found '" + endpoint + "'");
    }
    return endpoint;
  }

  private static InvalidTargetException invalid(String message) {
    return new InvalidTargetException(message);
  }

  private static String decode(String s, String target) {
    try {
      return URLDecoder.decode(s, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw new InvalidTargetException(target + ": bad percent-encoding in '" + s + "'");
    }
  }

  private static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8)
        .replace("+", "%20")
        .replace("%3A", ":")
        .replace("%2F", "/");
  }

  private static final class Builder {
    Optional<String> region = Optional.empty();
    String name;
    final List<String> shareAccounts = new ArrayList<>();
    final List<String> shareOrganizations = new ArrayList<>();
    final List<String> shareOrganizationalUnits = new ArrayList<>();
    final List<String> copyRegions = new ArrayList<>();
    final Map<String, String> tags = new LinkedHashMap<>();
    String volumeType = "gp3";
    OptionalInt rootVolumeSizeGiB = OptionalInt.empty();
    boolean deleteOnTermination = true;
    boolean imdsV2Required = true;
    boolean tpm = false;
    String architecture = "x86_64";
    String bootMode = "uefi";
    Optional<URI> ec2Endpoint = Optional.empty();
    Optional<URI> ebsEndpoint = Optional.empty();
    Optional<String> attestations = Optional.empty();
    Optional<URI> s3Endpoint = Optional.empty();
    Optional<AwsCredentialsProvider> credentials = Optional.empty();
    DiskOptions diskOptions = DiskOptions.defaults();

    void apply(String key, String value) {
      if (key.startsWith("tag.")) {
        String k = key.substring("tag.".length());
        if (k.isEmpty() || k.length() > 128 || value.length() > 256) {
          throw invalid(
              "expected tag.KEY=VALUE with a key of 1-128 and a value of 0-256 characters, found "
                  + key);
        }
        String lower = k.toLowerCase(Locale.ROOT);
        if (lower.startsWith("kiln:") || lower.startsWith("aws:")) {
          throw invalid(
              "expected a tag key not starting with kiln: or aws: (reserved), found " + k);
        }
        tags.put(k, value);
        return;
      }
      switch (key) {
        case "share":
          if (ACCOUNT.matcher(value).matches()) {
            addOnce(shareAccounts, value);
          } else if (ORGANIZATION.matcher(value).matches()) {
            addOnce(shareOrganizations, value);
          } else if (ORGANIZATIONAL_UNIT.matcher(value).matches()) {
            addOnce(shareOrganizationalUnits, value);
          } else {
            throw invalid(
                "share= expects a 12-digit account id, an organization ARN "
                    + "(arn:aws:organizations::ACCOUNT:organization/o-...) or an OU ARN "
                    + "(arn:aws:organizations::ACCOUNT:ou/o-.../ou-...), found '"
                    + value
                    + "'");
          }
          return;
        case "copyTo":
          addOnce(copyRegions, checkRegion(value));
          return;
        case "volumeType":
          if (!VOLUME_TYPES.contains(value)) {
            throw invalid(
                "volumeType= expects one of "
                    + new java.util.TreeSet<>(VOLUME_TYPES)
                    + ", found "
                    + value);
          }
          volumeType = value;
          return;
        case "size":
          try {
            int gib = Integer.parseInt(value);
            if (gib < 1 || gib > 65536) {
              throw new NumberFormatException();
            }
            rootVolumeSizeGiB = OptionalInt.of(gib);
          } catch (NumberFormatException e) {
            throw invalid("size= expects the root volume size in GiB (1-65536), found " + value);
          }
          return;
        case "deleteOnTermination":
          deleteOnTermination = bool(key, value);
          return;
        case "imds":
          if (value.equals("v2") || value.equals("v2.0") || value.equals("required")) {
            imdsV2Required = true;
          } else if (value.equals("optional") || value.equals("v1")) {
            imdsV2Required = false;
          } else {
            throw invalid(
                "imds= expects v2 (IMDSv2 required, the default) or optional, found " + value);
          }
          return;
        case "tpm":
          tpm = bool(key, value);
          return;
        case "arch":
          if (!ARCHITECTURES.contains(value)) {
            throw invalid(
                "arch= expects one of "
                    + new java.util.TreeSet<>(ARCHITECTURES)
                    + ", found "
                    + value);
          }
          if (!value.equals("x86_64") && !value.equals("arm64")) {
            throw invalid(
                "arch="
                    + value
                    + " is not supported: the disks Kiln builds boot x86-64 and arm64 machines with"
                    + " UEFI; expected arch=x86_64 (the default) or arch=arm64");
          }
          architecture = value;
          return;
        case "bootMode":
          if (!BOOT_MODES.contains(value)) {
            throw invalid(
                "bootMode= expects one of "
                    + new java.util.TreeSet<>(BOOT_MODES)
                    + ", found "
                    + value);
          }
          if (!value.equals("uefi")) {
            throw invalid(
                "bootMode="
                    + value
                    + " is not supported yet: the disks Kiln builds boot only with UEFI"
                    + " (no legacy BIOS boot code); expected bootMode=uefi (the default)");
          }
          bootMode = value;
          return;
        case "endpoint":
          ec2Endpoint = Optional.of(checkEndpoint(uri(value)));
          ebsEndpoint = ec2Endpoint;
          return;
        case "ec2Endpoint":
          ec2Endpoint = Optional.of(checkEndpoint(uri(value)));
          return;
        case "ebsEndpoint":
          ebsEndpoint = Optional.of(checkEndpoint(uri(value)));
          return;
        case "attestations":
          attestations = Optional.of(checkAttestations(value));
          return;
        case "s3Endpoint":
          s3Endpoint = Optional.of(checkEndpoint(uri(value)));
          return;
        default:
          throw invalid(
              "unknown parameter '"
                  + key
                  + "': expected one of "
                  + new java.util.TreeSet<>(KNOWN_PARAMS)
                  + ", tag.KEY or disk.NAME");
      }
    }

    private static void addOnce(List<String> list, String value) {
      if (!list.contains(value)) {
        list.add(value);
      }
    }

    private static boolean bool(String key, String value) {
      if (value.equals("true")) {
        return true;
      }
      if (value.equals("false")) {
        return false;
      }
      throw invalid(key + "= expects true or false, found " + value);
    }

    private static URI uri(String value) {
      try {
        return new URI(value);
      } catch (URISyntaxException e) {
        throw invalid("expected an http(s)://HOST[:PORT] endpoint, found '" + value + "'");
      }
    }
  }
}
