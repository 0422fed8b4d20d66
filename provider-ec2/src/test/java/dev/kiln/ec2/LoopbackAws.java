package dev.kiln.ec2;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * A loopback stand-in for EC2 and the EBS direct APIs that speaks their real wire protocols, for
 * tests: the EC2 Query API ({@code POST /} with {@code Action=...}, XML answers in the EC2
 * namespace, {@code <Response><Errors>} errors) and EBS REST-JSON ({@code /snapshots...}, {@code
 * x-amzn-ErrorType} errors), on 127.0.0.1 and a random port.
 *
 * <p>Every request must be SigV4-signed with {@link #credentials()} for the right service ({@code
 * ec2} or {@code ebs}); the region in the credential scope selects the region's state. The server
 * enforces what AWS does for an upload: 512 KiB blocks, the per-block SHA-256 checksum,
 * ChangedBlocksCount and the LINEAR aggregate checksum, ParentSnapshotId semantics (unwritten
 * blocks read from the parent), ClientToken idempotency, pending/completed states, snapshots in use
 * by AMIs cannot be deleted ({@code InvalidSnapshot.InUse}), AMI names are unique per region, a
 * deregistered AMI is gone from DescribeImages. It also keeps instances (RunInstances,
 * StopInstances, TerminateInstances, DescribeInstances; a terminated instance stays listed) and
 * launch templates with their versions (CreateLaunchTemplate, CreateLaunchTemplateVersion,
 * DescribeLaunchTemplates, DescribeLaunchTemplateVersions), and makes an AMI public only when a
 * launch permission for the group {@code all} is added.
 *
 * <p>Tests inject faults per operation and call number ({@link #fail}), read snapshots back block
 * by block ({@link #readBlock}, {@link #assembleDisk}) and inspect state ({@link #snapshots},
 * {@link #images}, {@link #calls}).
 *
 * <p>Thread-safe.
 */
public final class LoopbackAws implements AutoCloseable {
  public static final String ACCOUNT = "111122223333";
  public static final String ACCESS_KEY = "AKIAKILNLOOPBACK0001";
  public static final String SECRET_KEY = "kiln/loopback/test/secret/not/a/real/key0";
  public static final int BLOCK_SIZE = 512 * 1024;
  static final String EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/";

  /** What an injected fault does to a call. */
  public enum Fault {
    /** 500: EBS {@code InternalServerException}, EC2 {@code InternalError}. */
    INTERNAL_ERROR,
    /** 503: EBS {@code ServiceUnavailableException}, EC2 {@code Unavailable}. */
    SERVICE_UNAVAILABLE,
    /** EBS 400 {@code RequestThrottledException}, EC2 503 {@code RequestLimitExceeded}. */
    THROTTLED,
    /** EBS 400 {@code ThrottlingException}, EC2 400 {@code Throttling}. */
    THROTTLING_EXCEPTION,
    /** EBS 400 {@code ConcurrentLimitExceededException}. */
    CONCURRENT_LIMIT,
    /** Fatal: EBS 403 {@code AccessDeniedException}, EC2 403 {@code UnauthorizedOperation}. */
    ACCESS_DENIED,
    /** The connection is reset after the request was read, before it is processed. */
    DROP_CONNECTION,
    /** The request is processed, then the connection is reset without an answer. */
    DROP_AFTER_PROCESSING
  }

  /** A snapshot as the server holds it. */
  public record SnapshotInfo(
      String snapshotId,
      String region,
      String status,
      long volumeSizeGiB,
      Optional<String> parentSnapshotId,
      String description,
      Map<String, String> tags,
      Set<String> createVolumePermissions,
      Instant startTime,
      Set<Integer> writtenBlocks,
      Optional<String> clientToken,
      int timeoutMinutes,
      boolean completedWithChecksum) {}

  /** An AMI as the server holds it. */
  public record ImageInfo(
      String imageId,
      String region,
      String name,
      String state,
      String description,
      String architecture,
      String virtualizationType,
      String rootDeviceName,
      boolean enaSupport,
      String bootMode,
      String imdsSupport,
      String tpmSupport,
      List<Bdm> blockDeviceMappings,
      Map<String, String> tags,
      Set<String> launchUsers,
      Set<String> launchOrganizations,
      Set<String> launchOrganizationalUnits,
      Optional<String> sourceImageId,
      Optional<String> sourceRegion,
      Instant creationDate) {
    /** The root device's snapshot. */
    public String rootSnapshotId() {
      return blockDeviceMappings.stream()
          .filter(b -> b.deviceName().equals(rootDeviceName))
          .map(Bdm::snapshotId)
          .findFirst()
          .orElse(null);
    }
  }

  /** A block device mapping of an AMI. */
  public record Bdm(
      String deviceName,
      String snapshotId,
      Integer volumeSize,
      Boolean deleteOnTermination,
      String volumeType) {}

  /** One call the server accepted (signature valid), with its parameters. */
  public record Call(
      String operation, String region, int status, Map<String, String> params, boolean faulted) {}

  private static final class Snap {
    final String id;
    final String region;
    final long volumeGiB;
    final Snap parent;
    final int timeoutMinutes;
    final String clientToken;
    final String fingerprint;
    final Map<String, String> tags = new LinkedHashMap<>();
    final Set<String> cvpUsers = new LinkedHashSet<>();
    final ConcurrentSkipListMap<Integer, byte[]> blocks = new ConcurrentSkipListMap<>();
    final ConcurrentSkipListMap<Integer, byte[]> digests = new ConcurrentSkipListMap<>();
    String description;
    String status = "pending"; // pending | completing | completed | error
    String statusMessage = "";
    Instant startTime;
    volatile Instant lastActivity;
    int pollsLeft;
    boolean deleted;
    boolean completedWithChecksum;
    long changedBlocksCount = -1;
    String aggregate;

    Snap(
        String id,
        String region,
        long volumeGiB,
        Snap parent,
        int timeoutMinutes,
        String clientToken,
        String fingerprint,
        Instant now) {
      this.id = id;
      this.region = region;
      this.volumeGiB = volumeGiB;
      this.parent = parent;
      this.timeoutMinutes = timeoutMinutes;
      this.clientToken = clientToken;
      this.fingerprint = fingerprint;
      this.startTime = now;
      this.lastActivity = now;
    }

    String visibleStatus() {
      return status.equals("completing") ? "pending" : status;
    }
  }

  private static final class Img {
    String id;
    String region;
    String name;
    String description;
    String architecture;
    String virtualizationType;
    String rootDeviceName;
    boolean ena;
    String bootMode;
    String imdsSupport;
    String tpmSupport;
    String state = "pending";
    int pollsLeft;
    final List<Bdm> bdms = new ArrayList<>();
    final Map<String, String> tags = new LinkedHashMap<>();
    final Set<String> lpUsers = new LinkedHashSet<>();
    final Set<String> lpOrgs = new LinkedHashSet<>();
    final Set<String> lpOus = new LinkedHashSet<>();
    boolean lpAll;
    String sourceImageId;
    String sourceRegion;
    Instant created;
  }

  private static final class Instance {
    String id;
    String region;
    String imageId;
    String state = "running";
    Instant launched;
  }

  private static final class LaunchTemplate {
    String id;
    String region;
    String name;
    int defaultVersion = 1;
    Instant created;

    /** version number (from 1) to the AMI id of its launch template data, or null */
    final List<String> versions = new ArrayList<>();
  }

  /** An instance as the server holds it. */
  public record InstanceInfo(String instanceId, String region, String imageId, String state) {}

  /** An AWS error to answer with. */
  static final class AwsError extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final int status;
    final String code;
    final String reason;

    AwsError(int status, String code, String message) {
      this(status, code, message, null);
    }

    AwsError(int status, String code, String message, String reason) {
      super(message);
      this.status = status;
      this.code = code;
      this.reason = reason;
    }
  }

  private record FaultRule(String operation, Fault fault, int firstCall, int lastCall) {}

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern PUT_BLOCK =
      Pattern.compile("/snapshots/(snap-[0-9a-f]+)/blocks/(-?[0-9]+)");
  private static final Pattern LIST_BLOCKS = Pattern.compile("/snapshots/(snap-[0-9a-f]+)/blocks");
  private static final Pattern COMPLETE = Pattern.compile("/snapshots/completion/(snap-[0-9a-f]+)");
  private static final Pattern CHANGED =
      Pattern.compile("/snapshots/(snap-[0-9a-f]+)/changedblocks");
  private static final Pattern AMI_NAME = Pattern.compile("[A-Za-z0-9()\\[\\] ./\\-'@_]{3,128}");
  private static final Set<String> VOLUME_TYPES =
      Set.of("gp3", "gp2", "io1", "io2", "st1", "sc1", "standard");
  private static final Set<String> ARCHITECTURES =
      Set.of("x86_64", "arm64", "i386", "x86_64_mac", "arm64_mac");

  private final Object lock = new Object();
  private final Map<String, Snap> snapshots = new LinkedHashMap<>();
  private final Map<String, Img> images = new LinkedHashMap<>();
  private final Map<String, Instance> instances = new LinkedHashMap<>();
  private final Map<String, LaunchTemplate> launchTemplates = new LinkedHashMap<>();
  private final Map<String, String> ebsTokens = new HashMap<>();
  private final Map<String, String> copyTokens = new HashMap<>();
  private final List<String> deregistered = new ArrayList<>();
  private final List<String> deletedSnapshots = new ArrayList<>();
  private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
  private final List<FaultRule> faults = new CopyOnWriteArrayList<>();
  private final List<Call> log = Collections.synchronizedList(new ArrayList<>());
  private final AtomicInteger authFailures = new AtomicInteger();
  private final List<String> authFailureMessages = new CopyOnWriteArrayList<>();
  private final SigV4Verifier verifier = new SigV4Verifier(ACCESS_KEY, SECRET_KEY);
  private final SecureRandom random = new SecureRandom();
  private final LoopbackHttp http;
  private volatile int completionPolls = 1;
  private volatile int imagePolls = 1;
  private volatile int copyPolls = 2;
  private volatile boolean recordBlockCalls = true;

  private LoopbackAws() throws IOException {
    this.http = new LoopbackHttp(this::handle);
  }

  /** Starts a server on 127.0.0.1 and a free port. */
  public static LoopbackAws start() {
    try {
      return new LoopbackAws();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The endpoint both the EC2 and the EBS clients talk to. */
  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + http.port());
  }

  /** The static credentials the server accepts. */
  public AwsCredentialsProvider credentials() {
    return StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY));
  }

  /** A target in {@code region} pointed at this server with its credentials. */
  public Ec2Target target(String region, String name) {
    return Ec2Target.of(region, name).endpoint(endpoint()).credentials(credentials());
  }

  // ---------------------------------------------------------------- faults and knobs

  /**
   * Makes calls {@code firstCall .. firstCall + times - 1} (1-based, counted per operation from the
   * server's start) of {@code operation} fail with {@code fault}.
   */
  public LoopbackAws fail(String operation, Fault fault, int firstCall, int times) {
    faults.add(new FaultRule(operation, fault, firstCall, firstCall + times - 1));
    return this;
  }

  /** Makes the {@code nth} call of {@code operation} fail with {@code fault}. */
  public LoopbackAws failNth(String operation, Fault fault, int nth) {
    return fail(operation, fault, nth, 1);
  }

  /** Makes every call of {@code operation} from now on fail with {@code fault}. */
  public LoopbackAws failFromNow(String operation, Fault fault) {
    return fail(operation, fault, calls(operation) + 1, Integer.MAX_VALUE / 2);
  }

  /** Removes every injected fault. */
  public void clearFaults() {
    faults.clear();
  }

  /**
   * How many DescribeSnapshots of a completed upload show {@code pending} before {@code completed}.
   */
  public void setCompletionPolls(int n) {
    completionPolls = n;
  }

  /** How many DescribeImages of a registered AMI show {@code pending} before {@code available}. */
  public void setImagePolls(int n) {
    imagePolls = n;
  }

  /**
   * Whether PutSnapshotBlock/GetSnapshotBlock calls are kept in {@link #log()} (off for
   * benchmarks).
   */
  public void setRecordBlockCalls(boolean record) {
    recordBlockCalls = record;
  }

  // ---------------------------------------------------------------- inspection

  /** Calls of {@code operation} that passed signature checks (faulted ones included). */
  public int calls(String operation) {
    AtomicInteger n = calls.get(operation);
    return n == null ? 0 : n.get();
  }

  /** Requests refused for their signature. */
  public int authFailures() {
    return authFailures.get();
  }

  /** Why requests were refused for their signature. */
  public List<String> authFailureMessages() {
    return List.copyOf(authFailureMessages);
  }

  /** Every accepted call, in order. */
  public List<Call> log() {
    synchronized (log) {
      return List.copyOf(log);
    }
  }

  /** The accepted calls of {@code operation}. */
  public List<Call> log(String operation) {
    return log().stream().filter(c -> c.operation().equals(operation)).toList();
  }

  /** TCP connections accepted so far. */
  public int connections() {
    return http.connectionsAccepted();
  }

  /** The snapshots that exist (not deleted) in {@code region}. */
  public List<SnapshotInfo> snapshots(String region) {
    synchronized (lock) {
      return snapshots.values().stream()
          .filter(s -> s.region.equals(region))
          .map(this::info)
          .toList();
    }
  }

  /** Every snapshot that exists, in any region. */
  public List<SnapshotInfo> snapshots() {
    synchronized (lock) {
      return snapshots.values().stream().map(this::info).toList();
    }
  }

  /** A snapshot that exists. */
  public Optional<SnapshotInfo> snapshot(String id) {
    synchronized (lock) {
      return Optional.ofNullable(snapshots.get(id)).map(this::info);
    }
  }

  /** The AMIs that exist (not deregistered) in {@code region}. */
  public List<ImageInfo> images(String region) {
    synchronized (lock) {
      return images.values().stream().filter(i -> i.region.equals(region)).map(this::info).toList();
    }
  }

  /** Every AMI that exists, in any region. */
  public List<ImageInfo> images() {
    synchronized (lock) {
      return images.values().stream().map(this::info).toList();
    }
  }

  /** An AMI that exists. */
  public Optional<ImageInfo> image(String id) {
    synchronized (lock) {
      return Optional.ofNullable(images.get(id)).map(this::info);
    }
  }

  /**
   * The instances in {@code region}, terminated ones included (as DescribeInstances shows them).
   */
  public List<InstanceInfo> instances(String region) {
    synchronized (lock) {
      return instances.values().stream()
          .filter(i -> i.region.equals(region))
          .map(i -> new InstanceInfo(i.id, i.region, i.imageId, i.state))
          .toList();
    }
  }

  /** AMI ids deregistered so far. */
  public List<String> deregisteredImages() {
    synchronized (lock) {
      return List.copyOf(deregistered);
    }
  }

  /** Snapshot ids deleted so far. */
  public List<String> deletedSnapshots() {
    synchronized (lock) {
      return List.copyOf(deletedSnapshots);
    }
  }

  /** Moves a snapshot's start time or an AMI's creation date into the past, for sweep tests. */
  public void backdate(String resourceId, Duration by) {
    synchronized (lock) {
      Snap s = snapshots.get(resourceId);
      if (s != null) {
        s.startTime = s.startTime.minus(by);
        return;
      }
      Img i = images.get(resourceId);
      if (i != null) {
        i.created = i.created.minus(by);
        return;
      }
      throw new IllegalArgumentException("no snapshot or AMI " + resourceId);
    }
  }

  /**
   * Block {@code index} of a snapshot as a volume made from it would read it: written to the
   * snapshot, else inherited from its parent chain, else zeros. Works on deleted snapshots still
   * referenced as parents.
   */
  public byte[] readBlock(String snapshotId, int index) {
    Snap s;
    synchronized (lock) {
      s = snapshots.get(snapshotId);
    }
    if (s == null) {
      throw new IllegalArgumentException("no snapshot " + snapshotId);
    }
    byte[] b = resolve(s, index);
    return b == null ? new byte[BLOCK_SIZE] : b.clone();
  }

  /**
   * Writes the first {@code length} bytes of the volume a snapshot holds to {@code out} (sparse
   * where unwritten).
   */
  public void assembleDisk(String snapshotId, Path out, long length) throws IOException {
    Snap s;
    synchronized (lock) {
      s = snapshots.get(snapshotId);
    }
    if (s == null) {
      throw new IllegalArgumentException("no snapshot " + snapshotId);
    }
    try (FileChannel ch =
        FileChannel.open(
            out,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      long blocks = (length + BLOCK_SIZE - 1) / BLOCK_SIZE;
      for (int i = 0; i < blocks; i++) {
        byte[] b = resolve(s, i);
        if (b == null) {
          continue;
        }
        long pos = (long) i * BLOCK_SIZE;
        int len = (int) Math.min(BLOCK_SIZE, length - pos);
        ByteBuffer bb = ByteBuffer.wrap(b, 0, len);
        while (bb.hasRemaining()) {
          ch.write(bb, pos + bb.position());
        }
      }
      if (ch.size() < length) {
        ch.truncate(length);
        ch.write(ByteBuffer.allocate(0), length);
      }
    }
    if (java.nio.file.Files.size(out) < length) {
      try (FileChannel ch = FileChannel.open(out, StandardOpenOption.WRITE)) {
        ch.write(ByteBuffer.wrap(new byte[1]), length - 1);
      }
    }
  }

  private static byte[] resolve(Snap s, int index) {
    for (Snap c = s; c != null; c = c.parent) {
      byte[] b = c.blocks.get(index);
      if (b != null) {
        return b;
      }
    }
    return null;
  }

  private static Snap resolveOwner(Snap s, int index) {
    for (Snap c = s; c != null; c = c.parent) {
      if (c.blocks.containsKey(index)) {
        return c;
      }
    }
    return null;
  }

  @Override
  public void close() {
    http.close();
  }

  // ---------------------------------------------------------------- dispatch

  private LoopbackHttp.Response handle(LoopbackHttp.Request req) {
    String requestId = UUID.randomUUID().toString();
    boolean ebs = req.rawPath().startsWith("/snapshots");
    String op;
    Map<String, String> params = new LinkedHashMap<>();
    if (ebs) {
      op = ebsOperation(req);
      if (op == null) {
        return ebsError(
            new AwsError(404, "UnknownOperationException", req.method() + " " + req.rawPath()),
            requestId);
      }
    } else {
      if (!req.method().equals("POST") || !req.rawPath().equals("/")) {
        return ec2Error(
            new AwsError(
                400,
                "InvalidAction",
                "expected POST / with Action=, found " + req.method() + " " + req.rawPath()),
            requestId);
      }
      params = parseForm(new String(req.body(), StandardCharsets.UTF_8));
      op = params.get("Action");
      if (op == null) {
        return ec2Error(
            new AwsError(400, "MissingAction", "The request must contain the parameter Action"),
            requestId);
      }
      if (!"2016-11-15".equals(params.get("Version"))) {
        return ec2Error(
            new AwsError(
                400, "InvalidParameterValue", "unsupported Version " + params.get("Version")),
            requestId);
      }
    }
    byte[] bodySha256 =
        SigV4Verifier.sha256(req.body()); // once: the signature and the block checksum both use it
    SigV4Verifier.Result auth =
        verifier.verify(req, ebs ? "ebs" : "ec2", ebs && op.equals("PutSnapshotBlock"), bodySha256);
    if (!auth.ok()) {
      authFailures.incrementAndGet();
      authFailureMessages.add(op + ": " + auth.errorCode() + ": " + auth.message());
      if (ebs) {
        String code =
            switch (auth.errorCode()) {
              case "MissingAuthenticationToken" -> "MissingAuthenticationTokenException";
              case "InvalidClientTokenId" -> "UnrecognizedClientException";
              case "RequestExpired" -> "InvalidSignatureException";
              default -> "InvalidSignatureException";
            };
        return ebsError(new AwsError(403, code, auth.message()), requestId);
      }
      return ec2Error(
          new AwsError(401, "AuthFailure", auth.errorCode() + ": " + auth.message()), requestId);
    }
    String region = auth.region();
    int n = calls.computeIfAbsent(op, k -> new AtomicInteger()).incrementAndGet();
    Fault fault = null;
    for (FaultRule r : faults) {
      if (r.operation().equals(op) && n >= r.firstCall() && n <= r.lastCall()) {
        fault = r.fault();
        break;
      }
    }
    Map<String, String> logged = ebs ? ebsParams(op, req) : params;
    if (fault == Fault.DROP_CONNECTION) {
      record(op, region, 0, logged, true);
      return LoopbackHttp.Response.drop();
    }
    if (fault != null && fault != Fault.DROP_AFTER_PROCESSING) {
      AwsError e = faultError(fault, ebs);
      record(op, region, e.status, logged, true);
      return ebs ? ebsError(e, requestId) : ec2Error(e, requestId);
    }
    LoopbackHttp.Response resp;
    try {
      resp = ebs ? ebs(op, req, region, bodySha256) : ec2(op, params, region, requestId);
    } catch (AwsError e) {
      resp = ebs ? ebsError(e, requestId) : ec2Error(e, requestId);
    }
    record(op, region, resp.status(), logged, fault != null);
    if (fault == Fault.DROP_AFTER_PROCESSING) {
      return LoopbackHttp.Response.drop();
    }
    return resp.withHeader("x-amzn-RequestId", requestId);
  }

  private void record(
      String op, String region, int status, Map<String, String> params, boolean faulted) {
    if (!recordBlockCalls && (op.equals("PutSnapshotBlock") || op.equals("GetSnapshotBlock"))) {
      return;
    }
    log.add(new Call(op, region, status, params, faulted));
  }

  private static AwsError faultError(Fault f, boolean ebs) {
    switch (f) {
      case INTERNAL_ERROR:
        return ebs
            ? new AwsError(
                500, "InternalServerException", "An internal error has occurred (injected)")
            : new AwsError(500, "InternalError", "An internal error has occurred (injected)");
      case SERVICE_UNAVAILABLE:
        return ebs
            ? new AwsError(503, "ServiceUnavailableException", "Service unavailable (injected)")
            : new AwsError(503, "Unavailable", "The server is overloaded (injected)");
      case THROTTLED:
        return ebs
            ? new AwsError(
                400, "RequestThrottledException", "Rate exceeded (injected)", "ACCOUNT_THROTTLED")
            : new AwsError(503, "RequestLimitExceeded", "Request limit exceeded. (injected)");
      case THROTTLING_EXCEPTION:
        return ebs
            ? new AwsError(400, "ThrottlingException", "Rate exceeded (injected)")
            : new AwsError(400, "Throttling", "Rate exceeded (injected)");
      case CONCURRENT_LIMIT:
        return ebs
            ? new AwsError(
                400, "ConcurrentLimitExceededException", "Too many concurrent requests (injected)")
            : new AwsError(503, "RequestLimitExceeded", "Request limit exceeded. (injected)");
      case ACCESS_DENIED:
        return ebs
            ? new AwsError(
                403,
                "AccessDeniedException",
                "User is not authorized (injected)",
                "UNAUTHORIZED_ACCOUNT")
            : new AwsError(
                403,
                "UnauthorizedOperation",
                "You are not authorized to perform this operation. (injected)");
      default:
        throw new IllegalArgumentException(f.toString());
    }
  }

  private static String ebsOperation(LoopbackHttp.Request req) {
    String m = req.method();
    String p = req.rawPath();
    if (m.equals("POST") && p.equals("/snapshots")) {
      return "StartSnapshot";
    }
    if (m.equals("POST") && COMPLETE.matcher(p).matches()) {
      return "CompleteSnapshot";
    }
    if (m.equals("PUT") && PUT_BLOCK.matcher(p).matches()) {
      return "PutSnapshotBlock";
    }
    if (m.equals("GET") && PUT_BLOCK.matcher(p).matches()) {
      return "GetSnapshotBlock";
    }
    if (m.equals("GET") && LIST_BLOCKS.matcher(p).matches()) {
      return "ListSnapshotBlocks";
    }
    if (m.equals("GET") && CHANGED.matcher(p).matches()) {
      return "ListChangedBlocks";
    }
    return null;
  }

  private static Map<String, String> ebsParams(String op, LoopbackHttp.Request req) {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("path", req.rawPath());
    if (req.rawQuery() != null) {
      p.put("query", req.rawQuery());
    }
    for (String h :
        List.of(
            "x-amz-ChangedBlocksCount",
            "x-amz-Checksum",
            "x-amz-Checksum-Aggregation-Method",
            "x-amz-Data-Length",
            "x-amz-Progress",
            "x-amz-content-sha256")) {
      String v = req.header(h);
      if (v != null) {
        p.put(h, v);
      }
    }
    if (op.equals("StartSnapshot")) {
      try {
        JsonNode body = JSON.readTree(req.body());
        body.properties()
            .forEach(
                e ->
                    p.put(
                        e.getKey(),
                        e.getValue().isValueNode()
                            ? e.getValue().asText()
                            : e.getValue().toString()));
      } catch (IOException e) {
        p.put("body", "unparseable");
      }
    }
    return p;
  }

  // ---------------------------------------------------------------- EBS direct APIs (REST-JSON)

  private LoopbackHttp.Response ebs(
      String op, LoopbackHttp.Request req, String region, byte[] bodySha256) {
    switch (op) {
      case "StartSnapshot":
        return startSnapshot(req, region);
      case "PutSnapshotBlock":
        return putSnapshotBlock(req, region, bodySha256);
      case "CompleteSnapshot":
        return completeSnapshot(req, region);
      case "ListSnapshotBlocks":
        return listSnapshotBlocks(req, region);
      case "GetSnapshotBlock":
        return getSnapshotBlock(req, region);
      case "ListChangedBlocks":
        return listChangedBlocks(req, region);
      default:
        throw new AwsError(404, "UnknownOperationException", op);
    }
  }

  private LoopbackHttp.Response startSnapshot(LoopbackHttp.Request req, String region) {
    JsonNode body;
    try {
      body = JSON.readTree(req.body());
    } catch (IOException e) {
      throw new AwsError(
          400, "ValidationException", "malformed JSON body", "INVALID_PARAMETER_VALUE");
    }
    if (body == null || !body.has("VolumeSize")) {
      throw new AwsError(
          400, "ValidationException", "VolumeSize is required", "INVALID_VOLUME_SIZE");
    }
    long volume = body.get("VolumeSize").asLong();
    if (volume < 1 || volume > 16384) {
      throw new AwsError(
          400,
          "ValidationException",
          "VolumeSize must be 1-16384 GiB, found " + volume,
          "INVALID_VOLUME_SIZE");
    }
    int timeout = body.has("Timeout") ? body.get("Timeout").asInt() : 60;
    if (timeout < 10 || timeout > 4320) {
      throw new AwsError(
          400,
          "ValidationException",
          "Timeout must be 10-4320 minutes, found " + timeout,
          "INVALID_PARAMETER_VALUE");
    }
    String parentId = text(body, "ParentSnapshotId");
    boolean encrypted = body.has("Encrypted") && body.get("Encrypted").asBoolean();
    if (parentId != null && encrypted) {
      throw new AwsError(
          400,
          "ValidationException",
          "ParentSnapshotId cannot be combined with Encrypted",
          "INVALID_PARAMETER_VALUE");
    }
    String description = text(body, "Description");
    if (description != null && description.length() > 255) {
      throw new AwsError(
          400, "ValidationException", "Description is longer than 255", "INVALID_PARAMETER_VALUE");
    }
    Map<String, String> tags = new LinkedHashMap<>();
    if (body.has("Tags")) {
      for (JsonNode t : body.get("Tags")) {
        String k = text(t, "Key");
        String v = text(t, "Value");
        if (k == null
            || k.isEmpty()
            || k.length() > 127
            || k.startsWith("aws:")
            || (v != null && v.length() > 255)) {
          throw new AwsError(400, "ValidationException", "invalid tag " + k, "INVALID_TAG");
        }
        tags.put(k, v == null ? "" : v);
      }
      if (tags.size() > 50) {
        throw new AwsError(400, "ValidationException", "at most 50 tags", "INVALID_TAG");
      }
    }
    String token = text(body, "ClientToken");
    String fingerprint =
        volume + "|" + parentId + "|" + description + "|" + tags + "|" + timeout + "|" + encrypted;
    synchronized (lock) {
      if (token != null) {
        String existing = ebsTokens.get(region + "/" + token);
        if (existing != null) {
          Snap s = snapshots.get(existing);
          if (s != null && !s.fingerprint.equals(fingerprint)) {
            throw new AwsError(
                503,
                "ConflictException",
                "The request uses the same client token as a previous, but non-identical request.");
          }
          if (s != null) {
            return json(201, startResponse(s));
          }
        }
      }
      Snap parent = null;
      if (parentId != null) {
        parent = snapshots.get(parentId);
        if (parent == null || !parent.region.equals(region)) {
          throw new AwsError(
              404,
              "ResourceNotFoundException",
              "The parent snapshot " + parentId + " does not exist",
              "SNAPSHOT_NOT_FOUND");
        }
        checkTimeout(parent);
        if (!parent.status.equals("completed")) {
          throw new AwsError(
              400,
              "ValidationException",
              "The parent snapshot "
                  + parentId
                  + " is "
                  + parent.visibleStatus()
                  + ", not completed",
              "INVALID_PARAMETER_VALUE");
        }
        if (volume < parent.volumeGiB) {
          throw new AwsError(
              400,
              "ValidationException",
              "VolumeSize " + volume + " is smaller than the parent's " + parent.volumeGiB,
              "INVALID_VOLUME_SIZE");
        }
      }
      Snap s =
          new Snap(
              newId("snap-"), region, volume, parent, timeout, token, fingerprint, Instant.now());
      s.description = description;
      s.tags.putAll(tags);
      snapshots.put(s.id, s);
      if (token != null) {
        ebsTokens.put(region + "/" + token, s.id);
      }
      return json(201, startResponse(s));
    }
  }

  private ObjectNode startResponse(Snap s) {
    ObjectNode r = JSON.createObjectNode();
    r.put("SnapshotId", s.id);
    r.put("OwnerId", ACCOUNT);
    r.put("Status", s.visibleStatus());
    r.put("StartTime", s.startTime.toEpochMilli() / 1000.0);
    r.put("VolumeSize", s.volumeGiB);
    r.put("BlockSize", BLOCK_SIZE);
    if (s.description != null) {
      r.put("Description", s.description);
    }
    if (s.parent != null) {
      r.put("ParentSnapshotId", s.parent.id);
    }
    ArrayNode tags = r.putArray("Tags");
    s.tags.forEach((k, v) -> tags.addObject().put("Key", k).put("Value", v));
    return r;
  }

  private LoopbackHttp.Response putSnapshotBlock(
      LoopbackHttp.Request req, String region, byte[] bodySha256) {
    Matcher m = PUT_BLOCK.matcher(req.rawPath());
    m.matches();
    String id = m.group(1);
    Snap s = ebsSnapshot(id, region);
    long index;
    try {
      index = Long.parseLong(m.group(2));
    } catch (NumberFormatException e) {
      throw new AwsError(
          400, "ValidationException", "bad block index " + m.group(2), "INVALID_BLOCK");
    }
    String dataLength = req.header("x-amz-Data-Length");
    String checksum = req.header("x-amz-Checksum");
    String algorithm = req.header("x-amz-Checksum-Algorithm");
    if (dataLength == null || checksum == null || algorithm == null) {
      throw new AwsError(
          400,
          "ValidationException",
          "x-amz-Data-Length, x-amz-Checksum and x-amz-Checksum-Algorithm are required",
          "INVALID_PARAMETER_VALUE");
    }
    if (!dataLength.equals(Integer.toString(BLOCK_SIZE))) {
      throw new AwsError(
          400,
          "ValidationException",
          "x-amz-Data-Length must be 524288, found " + dataLength,
          "INVALID_PARAMETER_VALUE");
    }
    if (req.body().length != BLOCK_SIZE) {
      throw new AwsError(
          400,
          "ValidationException",
          "the block data has "
              + req.body().length
              + " bytes; only 524288-byte blocks are supported",
          "INVALID_PARAMETER_VALUE");
    }
    if (!algorithm.equals("SHA256")) {
      throw new AwsError(
          400,
          "ValidationException",
          "x-amz-Checksum-Algorithm must be SHA256, found " + algorithm,
          "INVALID_PARAMETER_VALUE");
    }
    String progress = req.header("x-amz-Progress");
    if (progress != null) {
      int p = Integer.parseInt(progress);
      if (p < 0 || p > 100) {
        throw new AwsError(
            400, "ValidationException", "x-amz-Progress must be 0-100", "INVALID_PARAMETER_VALUE");
      }
    }
    byte[] digest = bodySha256;
    String actual = Base64.getEncoder().encodeToString(digest);
    if (!actual.equals(checksum)) {
      throw new AwsError(
          400,
          "ValidationException",
          "The checksum " + checksum + " does not match the block data (" + actual + ")",
          "INVALID_PARAMETER_VALUE");
    }
    synchronized (lock) {
      checkTimeout(s);
      if (s.deleted) {
        throw new AwsError(
            404,
            "ResourceNotFoundException",
            "The snapshot " + id + " does not exist",
            "SNAPSHOT_NOT_FOUND");
      }
      if (!s.status.equals("pending")) {
        throw new AwsError(
            400,
            "ValidationException",
            "The snapshot "
                + id
                + " is "
                + s.visibleStatus()
                + "; blocks can be written only while it is pending",
            "INVALID_PARAMETER_VALUE");
      }
      if (index < 0 || index >= s.volumeGiB * 2048) {
        throw new AwsError(
            400,
            "ValidationException",
            "block index " + index + " is outside the volume (" + s.volumeGiB * 2048 + " blocks)",
            "INVALID_BLOCK");
      }
      s.blocks.put((int) index, req.body());
      s.digests.put((int) index, digest);
      s.lastActivity = Instant.now();
    }
    LoopbackHttp.Response r = LoopbackHttp.Response.of(201, "application/json", new byte[0]);
    return r.withHeader("x-amz-Checksum", actual).withHeader("x-amz-Checksum-Algorithm", "SHA256");
  }

  private LoopbackHttp.Response completeSnapshot(LoopbackHttp.Request req, String region) {
    Matcher m = COMPLETE.matcher(req.rawPath());
    m.matches();
    Snap s = ebsSnapshot(m.group(1), region);
    String countHeader = req.header("x-amz-ChangedBlocksCount");
    if (countHeader == null) {
      throw new AwsError(
          400,
          "ValidationException",
          "x-amz-ChangedBlocksCount is required",
          "INVALID_PARAMETER_VALUE");
    }
    long count = Long.parseLong(countHeader);
    String checksum = req.header("x-amz-Checksum");
    String algorithm = req.header("x-amz-Checksum-Algorithm");
    String method = req.header("x-amz-Checksum-Aggregation-Method");
    synchronized (lock) {
      checkTimeout(s);
      if (s.status.equals("completing") || s.status.equals("completed")) {
        if (count == s.changedBlocksCount && java.util.Objects.equals(checksum, s.aggregate)) {
          return json(202, JSON.createObjectNode().put("Status", s.visibleStatus()));
        }
        throw new AwsError(
            400,
            "ValidationException",
            "The snapshot " + s.id + " is already " + s.visibleStatus(),
            "INVALID_PARAMETER_VALUE");
      }
      if (!s.status.equals("pending")) {
        throw new AwsError(
            400,
            "ValidationException",
            "The snapshot " + s.id + " is " + s.status,
            "INVALID_PARAMETER_VALUE");
      }
      if (count != s.blocks.size()) {
        throw new AwsError(
            400,
            "ValidationException",
            "x-amz-ChangedBlocksCount is "
                + count
                + " but "
                + s.blocks.size()
                + " blocks were written",
            "INVALID_PARAMETER_VALUE");
      }
      if (checksum != null) {
        if (!"SHA256".equals(algorithm) || !"LINEAR".equals(method)) {
          throw new AwsError(
              400,
              "ValidationException",
              "the aggregate checksum needs algorithm SHA256 and method "
                  + "LINEAR, found "
                  + algorithm
                  + "/"
                  + method,
              "INVALID_PARAMETER_VALUE");
        }
        MessageDigest md = sha256();
        for (byte[] d : s.digests.values()) {
          md.update(d);
        }
        String expected = Base64.getEncoder().encodeToString(md.digest());
        if (!expected.equals(checksum)) {
          throw new AwsError(
              400,
              "ValidationException",
              "The aggregate checksum "
                  + checksum
                  + " does not match the written blocks ("
                  + expected
                  + ")",
              "INVALID_PARAMETER_VALUE");
        }
      }
      s.completedWithChecksum = checksum != null;
      s.changedBlocksCount = count;
      s.aggregate = checksum;
      s.lastActivity = Instant.now();
      if (completionPolls <= 0) {
        s.status = "completed";
      } else {
        s.status = "completing";
        s.pollsLeft = completionPolls;
      }
      return json(202, JSON.createObjectNode().put("Status", s.visibleStatus()));
    }
  }

  private LoopbackHttp.Response listSnapshotBlocks(LoopbackHttp.Request req, String region) {
    Matcher m = LIST_BLOCKS.matcher(req.rawPath());
    m.matches();
    Snap s = ebsSnapshot(m.group(1), region);
    Map<String, String> q = parseQuery(req.rawQuery());
    synchronized (lock) {
      requireCompleted(s);
    }
    TreeSet<Integer> all = new TreeSet<>();
    for (Snap c = s; c != null; c = c.parent) {
      all.addAll(c.blocks.keySet());
    }
    int start =
        q.containsKey("startingBlockIndex") ? Integer.parseInt(q.get("startingBlockIndex")) : 0;
    int max = maxResults(q);
    int from =
        q.containsKey("pageToken")
            ? Integer.parseInt(
                new String(Base64.getDecoder().decode(q.get("pageToken")), StandardCharsets.UTF_8))
            : start;
    ObjectNode r = JSON.createObjectNode();
    ArrayNode blocks = r.putArray("Blocks");
    Integer next = null;
    int n = 0;
    for (int i : all.tailSet(from, true)) {
      if (n == max) {
        next = i;
        break;
      }
      blocks.addObject().put("BlockIndex", i).put("BlockToken", blockToken(resolveOwner(s, i), i));
      n++;
    }
    r.put("ExpiryTime", Instant.now().plus(Duration.ofHours(1)).getEpochSecond());
    r.put("VolumeSize", s.volumeGiB);
    r.put("BlockSize", BLOCK_SIZE);
    if (next != null) {
      r.put(
          "NextToken",
          Base64.getEncoder()
              .encodeToString(Integer.toString(next).getBytes(StandardCharsets.UTF_8)));
    }
    return json(200, r);
  }

  private LoopbackHttp.Response getSnapshotBlock(LoopbackHttp.Request req, String region) {
    Matcher m = PUT_BLOCK.matcher(req.rawPath());
    m.matches();
    Snap s = ebsSnapshot(m.group(1), region);
    int index = Integer.parseInt(m.group(2));
    Map<String, String> q = parseQuery(req.rawQuery());
    synchronized (lock) {
      requireCompleted(s);
    }
    Snap owner = resolveOwner(s, index);
    String token = q.get("blockToken");
    if (owner == null || token == null || !token.equals(blockToken(owner, index))) {
      throw new AwsError(
          400,
          "ValidationException",
          "The block token is not valid for block " + index,
          "INVALID_BLOCK_TOKEN");
    }
    byte[] data = owner.blocks.get(index);
    LoopbackHttp.Response r = LoopbackHttp.Response.of(200, "application/octet-stream", data);
    return r.withHeader("x-amz-Data-Length", Integer.toString(data.length))
        .withHeader("x-amz-Checksum", Base64.getEncoder().encodeToString(owner.digests.get(index)))
        .withHeader("x-amz-Checksum-Algorithm", "SHA256");
  }

  private LoopbackHttp.Response listChangedBlocks(LoopbackHttp.Request req, String region) {
    Matcher m = CHANGED.matcher(req.rawPath());
    m.matches();
    Snap second = ebsSnapshot(m.group(1), region);
    Map<String, String> q = parseQuery(req.rawQuery());
    Snap first =
        q.containsKey("firstSnapshotId") ? ebsSnapshot(q.get("firstSnapshotId"), region) : null;
    synchronized (lock) {
      requireCompleted(second);
      if (first != null) {
        requireCompleted(first);
      }
    }
    TreeSet<Integer> all = new TreeSet<>();
    for (Snap c = second; c != null; c = c.parent) {
      all.addAll(c.blocks.keySet());
    }
    for (Snap c = first; c != null; c = c.parent) {
      all.addAll(c.blocks.keySet());
    }
    int start =
        q.containsKey("startingBlockIndex") ? Integer.parseInt(q.get("startingBlockIndex")) : 0;
    int max = maxResults(q);
    int from =
        q.containsKey("pageToken")
            ? Integer.parseInt(
                new String(Base64.getDecoder().decode(q.get("pageToken")), StandardCharsets.UTF_8))
            : start;
    ObjectNode r = JSON.createObjectNode();
    ArrayNode changed = r.putArray("ChangedBlocks");
    Integer next = null;
    int n = 0;
    for (int i : all.tailSet(from, true)) {
      Snap a = first == null ? null : resolveOwner(first, i);
      Snap b = resolveOwner(second, i);
      if (a == b) {
        continue;
      }
      if (n == max) {
        next = i;
        break;
      }
      ObjectNode c = changed.addObject().put("BlockIndex", i);
      if (a != null) {
        c.put("FirstBlockToken", blockToken(a, i));
      }
      if (b != null) {
        c.put("SecondBlockToken", blockToken(b, i));
      }
      n++;
    }
    r.put("ExpiryTime", Instant.now().plus(Duration.ofHours(1)).getEpochSecond());
    r.put("VolumeSize", second.volumeGiB);
    r.put("BlockSize", BLOCK_SIZE);
    if (next != null) {
      r.put(
          "NextToken",
          Base64.getEncoder()
              .encodeToString(Integer.toString(next).getBytes(StandardCharsets.UTF_8)));
    }
    return json(200, r);
  }

  private static int maxResults(Map<String, String> q) {
    if (!q.containsKey("maxResults")) {
      return 10000;
    }
    int max = Integer.parseInt(q.get("maxResults"));
    if (max < 100 || max > 10000) {
      throw new AwsError(
          400, "ValidationException", "maxResults must be 100-10000", "INVALID_PARAMETER_VALUE");
    }
    return max;
  }

  private static String blockToken(Snap owner, int index) {
    return Base64.getEncoder()
        .encodeToString((owner.id + ":" + index).getBytes(StandardCharsets.UTF_8));
  }

  private Snap ebsSnapshot(String id, String region) {
    synchronized (lock) {
      Snap s = snapshots.get(id);
      if (s == null || !s.region.equals(region)) {
        throw new AwsError(
            404,
            "ResourceNotFoundException",
            "The snapshot " + id + " does not exist",
            "SNAPSHOT_NOT_FOUND");
      }
      return s;
    }
  }

  private static void requireCompleted(Snap s) {
    if (!s.status.equals("completed")) {
      throw new AwsError(
          400,
          "ValidationException",
          "The snapshot "
              + s.id
              + " is "
              + s.visibleStatus()
              + "; blocks can be read only from completed snapshots",
          "INVALID_PARAMETER_VALUE");
    }
  }

  private static void checkTimeout(Snap s) {
    if (s.status.equals("pending")
        && Instant.now().isAfter(s.lastActivity.plus(Duration.ofMinutes(s.timeoutMinutes)))) {
      s.status = "error";
      s.statusMessage =
          "The snapshot was not completed within its timeout of " + s.timeoutMinutes + " minutes";
    }
  }

  private static LoopbackHttp.Response json(int status, JsonNode body) {
    try {
      return LoopbackHttp.Response.of(status, "application/json", JSON.writeValueAsBytes(body));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static LoopbackHttp.Response ebsError(AwsError e, String requestId) {
    ObjectNode body = JSON.createObjectNode().put("Message", e.getMessage());
    if (e.reason != null) {
      body.put("Reason", e.reason);
    }
    return json(e.status, body)
        .withHeader("x-amzn-ErrorType", e.code)
        .withHeader("x-amzn-RequestId", requestId);
  }

  // ---------------------------------------------------------------- EC2 Query API

  private LoopbackHttp.Response ec2(
      String op, Map<String, String> p, String region, String requestId) {
    Xml x = new Xml(op + "Response", requestId);
    synchronized (lock) {
      switch (op) {
        case "DescribeImages":
          describeImages(p, region, x);
          break;
        case "RegisterImage":
          x.el("imageId", registerImage(p, region));
          break;
        case "DeregisterImage":
          deregisterImage(p, region);
          x.el("return", "true");
          break;
        case "CreateTags":
          tags(p, region, true);
          x.el("return", "true");
          break;
        case "DeleteTags":
          tags(p, region, false);
          x.el("return", "true");
          break;
        case "DescribeSnapshots":
          describeSnapshots(p, region, x);
          break;
        case "DeleteSnapshot":
          deleteSnapshot(p, region);
          x.el("return", "true");
          break;
        case "ModifyImageAttribute":
          modifyImageAttribute(p, region);
          x.el("return", "true");
          break;
        case "ModifySnapshotAttribute":
          modifySnapshotAttribute(p, region);
          x.el("return", "true");
          break;
        case "DescribeImageAttribute":
          describeImageAttribute(p, region, x);
          break;
        case "DescribeSnapshotAttribute":
          describeSnapshotAttribute(p, region, x);
          break;
        case "CopyImage":
          x.el("imageId", copyImage(p, region));
          break;
        case "RunInstances":
          runInstances(p, region, x);
          break;
        case "StopInstances":
          changeInstances(p, region, x, "stopped");
          break;
        case "TerminateInstances":
          changeInstances(p, region, x, "terminated");
          break;
        case "DescribeInstances":
          describeInstances(p, region, x);
          break;
        case "CreateLaunchTemplate":
          createLaunchTemplate(p, region, x);
          break;
        case "CreateLaunchTemplateVersion":
          createLaunchTemplateVersion(p, region, x);
          break;
        case "DescribeLaunchTemplates":
          describeLaunchTemplates(p, region, x);
          break;
        case "DescribeLaunchTemplateVersions":
          describeLaunchTemplateVersions(p, region, x);
          break;
        default:
          throw new AwsError(
              400, "InvalidAction", "The action " + op + " is not valid for this web service.");
      }
    }
    return LoopbackHttp.Response.of(200, "text/xml;charset=UTF-8", x.bytes());
  }

  private void describeImages(Map<String, String> p, String region, Xml x) {
    List<String> ids = list(p, "ImageId");
    List<String> owners = list(p, "Owner");
    List<Map<String, String>> filters = structs(p, "Filter");
    checkFilters(filters, IMAGE_FILTERS);
    for (String id : ids) {
      Img i = images.get(id);
      if (i == null || !i.region.equals(region)) {
        throw new AwsError(
            400, "InvalidAMIID.NotFound", "The image id '[" + id + "]' does not exist");
      }
    }
    List<Img> out = new ArrayList<>();
    for (Img i : images.values()) {
      if (!i.region.equals(region)
          || (!ids.isEmpty() && !ids.contains(i.id))
          || !ownerMatches(owners)) {
        continue;
      }
      advance(i);
      if (matches(filters, name -> imageAttribute(i, name))) {
        out.add(i);
      }
    }
    List<Img> page = page(out, p, x);
    x.open("imagesSet");
    for (Img i : page) {
      x.open("item");
      x.el("imageId", i.id);
      x.el("imageLocation", ACCOUNT + "/" + i.name);
      x.el("imageState", i.state);
      x.el("imageOwnerId", ACCOUNT);
      x.el("creationDate", iso(i.created));
      x.el("isPublic", Boolean.toString(i.lpAll));
      x.el("architecture", i.architecture);
      x.el("imageType", "machine");
      x.el("name", i.name);
      x.el("description", i.description);
      x.el("rootDeviceType", "ebs");
      x.el("rootDeviceName", i.rootDeviceName);
      bdms(x, i);
      x.el("virtualizationType", i.virtualizationType);
      tagSet(x, i.tags);
      x.el("hypervisor", "xen");
      x.el("enaSupport", Boolean.toString(i.ena));
      x.el("bootMode", i.bootMode);
      x.el("imdsSupport", i.imdsSupport);
      x.el("tpmSupport", i.tpmSupport);
      x.el("sourceImageId", i.sourceImageId);
      x.el("sourceImageRegion", i.sourceRegion);
      x.close("item");
    }
    x.close("imagesSet");
  }

  private void bdms(Xml x, Img i) {
    x.open("blockDeviceMapping");
    for (Bdm b : i.bdms) {
      x.open("item");
      x.el("deviceName", b.deviceName());
      x.open("ebs");
      x.el("snapshotId", b.snapshotId());
      x.el("volumeSize", b.volumeSize() == null ? null : b.volumeSize().toString());
      x.el(
          "deleteOnTermination",
          b.deleteOnTermination() == null ? null : b.deleteOnTermination().toString());
      x.el("volumeType", b.volumeType());
      x.el("encrypted", "false");
      x.close("ebs");
      x.close("item");
    }
    x.close("blockDeviceMapping");
  }

  private void advance(Img i) {
    if (i.state.equals("pending")) {
      if (i.pollsLeft <= 0) {
        i.state = "available";
      } else {
        i.pollsLeft--;
      }
    }
  }

  private static List<String> imageAttribute(Img i, String name) {
    if (name.startsWith("tag:")) {
      String v = i.tags.get(name.substring(4));
      return v == null ? List.of() : List.of(v);
    }
    switch (name) {
      case "tag-key":
        return List.copyOf(i.tags.keySet());
      case "name":
        return List.of(i.name);
      case "state":
        return List.of(i.state);
      case "image-id":
        return List.of(i.id);
      case "owner-id":
        return List.of(ACCOUNT);
      case "architecture":
        return List.of(i.architecture);
      case "block-device-mapping.snapshot-id":
        return i.bdms.stream().map(Bdm::snapshotId).toList();
      default:
        throw new AwsError(400, "InvalidParameterValue", "The filter '" + name + "' is invalid");
    }
  }

  private String registerImage(Map<String, String> p, String region) {
    String name = required(p, "Name");
    if (!AMI_NAME.matcher(name).matches()) {
      throw new AwsError(
          400,
          "InvalidAMIName.Malformed",
          "AMI names must be 3-128 characters of [A-Za-z0-9()[] ./-'@_]"
              + ", found '"
              + name
              + "'");
    }
    for (Img other : images.values()) {
      if (other.region.equals(region) && other.name.equals(name)) {
        throw new AwsError(
            400,
            "InvalidAMIName.Duplicate",
            "AMI name " + name + " is already in use by AMI " + other.id);
      }
    }
    if (p.containsKey("ImageLocation")) {
      throw new AwsError(
          400, "InvalidParameterCombination", "ImageLocation is for instance-store AMIs");
    }
    Img i = new Img();
    i.region = region;
    i.name = name;
    i.description = p.get("Description");
    i.architecture = p.getOrDefault("Architecture", "i386");
    if (!ARCHITECTURES.contains(i.architecture)) {
      throw new AwsError(
          400, "InvalidParameterValue", "Invalid value '" + i.architecture + "' for architecture");
    }
    i.virtualizationType = p.getOrDefault("VirtualizationType", "paravirtual");
    if (!i.virtualizationType.equals("hvm") && !i.virtualizationType.equals("paravirtual")) {
      throw new AwsError(
          400, "InvalidParameterValue", "Invalid virtualization type " + i.virtualizationType);
    }
    i.rootDeviceName = required(p, "RootDeviceName");
    i.ena = Boolean.parseBoolean(p.getOrDefault("EnaSupport", "false"));
    i.bootMode = p.get("BootMode");
    if (i.bootMode != null
        && !Set.of("uefi", "legacy-bios", "uefi-preferred").contains(i.bootMode)) {
      throw new AwsError(400, "InvalidParameterValue", "Invalid boot mode " + i.bootMode);
    }
    i.imdsSupport = p.get("ImdsSupport");
    if (i.imdsSupport != null && !i.imdsSupport.equals("v2.0")) {
      throw new AwsError(
          400, "InvalidParameterValue", "ImdsSupport can only be v2.0, found " + i.imdsSupport);
    }
    i.tpmSupport = p.get("TpmSupport");
    if (i.tpmSupport != null) {
      if (!i.tpmSupport.equals("v2.0")) {
        throw new AwsError(
            400, "InvalidParameterValue", "TpmSupport can only be v2.0, found " + i.tpmSupport);
      }
      if (!"uefi".equals(i.bootMode)) {
        throw new AwsError(400, "InvalidParameterCombination", "NitroTPM requires BootMode uefi");
      }
    }
    if ((i.ena || "uefi".equals(i.bootMode)) && !i.virtualizationType.equals("hvm")) {
      throw new AwsError(
          400, "InvalidParameterCombination", "ENA and UEFI need hvm virtualization");
    }
    List<Map<String, String>> mappings = structs(p, "BlockDeviceMapping");
    if (mappings.isEmpty()) {
      throw new AwsError(
          400, "InvalidBlockDeviceMapping", "an EBS-backed AMI needs a root block device mapping");
    }
    boolean rootFound = false;
    for (Map<String, String> m : mappings) {
      String device = m.get("DeviceName");
      String snapId = m.get("Ebs.SnapshotId");
      Integer size =
          m.containsKey("Ebs.VolumeSize") ? Integer.valueOf(m.get("Ebs.VolumeSize")) : null;
      Boolean dot =
          m.containsKey("Ebs.DeleteOnTermination")
              ? Boolean.valueOf(m.get("Ebs.DeleteOnTermination"))
              : null;
      String type = m.getOrDefault("Ebs.VolumeType", "gp2");
      if (!VOLUME_TYPES.contains(type)) {
        throw new AwsError(400, "InvalidParameterValue", "Invalid volume type " + type);
      }
      if (snapId != null) {
        Snap s = snapshots.get(snapId);
        if (s == null || !s.region.equals(region)) {
          throw new AwsError(
              400, "InvalidSnapshot.NotFound", "The snapshot '" + snapId + "' does not exist.");
        }
        if (!s.status.equals("completed")) {
          throw new AwsError(
              400,
              "IncorrectState",
              "Snapshot " + snapId + " is in invalid state - " + s.visibleStatus());
        }
        if (size == null) {
          size = (int) s.volumeGiB;
        } else if (size < s.volumeGiB) {
          throw new AwsError(
              400,
              "InvalidBlockDeviceMapping",
              "Volume of size "
                  + size
                  + "GB is smaller than snapshot '"
                  + snapId
                  + "', expect size >= "
                  + s.volumeGiB
                  + "GB");
        }
      }
      if (i.rootDeviceName.equals(device)) {
        rootFound = snapId != null;
      }
      i.bdms.add(new Bdm(device, snapId, size, dot == null ? Boolean.TRUE : dot, type));
    }
    if (!rootFound) {
      throw new AwsError(
          400,
          "InvalidBlockDeviceMapping",
          "The root device " + i.rootDeviceName + " needs a mapping with a snapshot");
    }
    for (Map<String, String> spec : structs(p, "TagSpecification")) {
      String type = spec.get("ResourceType");
      Map<String, String> t = tagsOf(spec, "Tag");
      if ("image".equals(type)) {
        i.tags.putAll(t);
      } else if ("snapshot".equals(type)) {
        for (Bdm b : i.bdms) {
          if (b.snapshotId() != null) {
            snapshots.get(b.snapshotId()).tags.putAll(t);
          }
        }
      } else {
        throw new AwsError(
            400, "InvalidParameterValue", "tags for resource type " + type + " are not valid here");
      }
    }
    i.id = newId("ami-");
    i.created = Instant.now();
    i.pollsLeft = imagePolls;
    images.put(i.id, i);
    return i.id;
  }

  private void deregisterImage(Map<String, String> p, String region) {
    Img i = image(required(p, "ImageId"), region);
    images.remove(i.id);
    deregistered.add(i.id);
  }

  private void tags(Map<String, String> p, String region, boolean create) {
    List<String> ids = list(p, "ResourceId");
    if (ids.isEmpty()) {
      throw new AwsError(
          400, "MissingParameter", "The request must contain the parameter ResourceId");
    }
    List<Map<String, String>> tagList = structs(p, "Tag");
    List<Map<String, String>> targets = new ArrayList<>();
    for (String id : ids) {
      if (id.startsWith("ami-")) {
        targets.add(image(id, region).tags);
      } else if (id.startsWith("snap-")) {
        targets.add(snapshot(id, region).tags);
      } else {
        throw new AwsError(400, "InvalidID", "The ID '" + id + "' is not valid");
      }
    }
    for (Map<String, String> t : targets) {
      for (Map<String, String> tag : tagList) {
        String k = tag.get("Key");
        if (k == null || k.startsWith("aws:")) {
          throw new AwsError(400, "InvalidParameterValue", "invalid tag key " + k);
        }
        if (create) {
          t.put(k, tag.getOrDefault("Value", ""));
        } else if (!tag.containsKey("Value") || tag.get("Value").equals(t.get(k))) {
          t.remove(k);
        }
      }
      if (t.size() > 50) {
        throw new AwsError(400, "TagLimitExceeded", "a resource can have at most 50 tags");
      }
    }
  }

  private void describeSnapshots(Map<String, String> p, String region, Xml x) {
    List<String> ids = list(p, "SnapshotId");
    List<String> owners = list(p, "Owner");
    List<Map<String, String>> filters = structs(p, "Filter");
    checkFilters(filters, SNAPSHOT_FILTERS);
    for (String id : ids) {
      Snap s = snapshots.get(id);
      if (s == null || !s.region.equals(region)) {
        throw new AwsError(
            400, "InvalidSnapshot.NotFound", "The snapshot '" + id + "' does not exist.");
      }
    }
    List<Snap> out = new ArrayList<>();
    for (Snap s : snapshots.values()) {
      if (!s.region.equals(region)
          || (!ids.isEmpty() && !ids.contains(s.id))
          || !ownerMatches(owners)) {
        continue;
      }
      checkTimeout(s);
      if (s.status.equals("completing")) {
        if (s.pollsLeft <= 0) {
          s.status = "completed";
        } else {
          s.pollsLeft--;
        }
      }
      if (matches(filters, name -> snapshotAttribute(s, name))) {
        out.add(s);
      }
    }
    List<Snap> page = page(out, p, x);
    x.open("snapshotSet");
    for (Snap s : page) {
      x.open("item");
      x.el("snapshotId", s.id);
      x.el("volumeId", "vol-ffffffff");
      x.el("status", s.visibleStatus());
      if (!s.statusMessage.isEmpty()) {
        x.el("statusMessage", s.statusMessage);
      }
      x.el("startTime", iso(s.startTime));
      x.el("progress", s.status.equals("completed") ? "100%" : "");
      x.el("ownerId", ACCOUNT);
      x.el("volumeSize", Long.toString(s.volumeGiB));
      x.el("description", s.description);
      x.el("encrypted", "false");
      x.el("storageTier", "standard");
      if (s.status.equals("completed")) {
        x.el("fullSnapshotSizeInBytes", Long.toString(fullSize(s)));
      }
      tagSet(x, s.tags);
      x.close("item");
    }
    x.close("snapshotSet");
  }

  private static List<String> snapshotAttribute(Snap s, String name) {
    if (name.startsWith("tag:")) {
      String v = s.tags.get(name.substring(4));
      return v == null ? List.of() : List.of(v);
    }
    switch (name) {
      case "tag-key":
        return List.copyOf(s.tags.keySet());
      case "status":
        return List.of(s.visibleStatus());
      case "snapshot-id":
        return List.of(s.id);
      case "owner-id":
        return List.of(ACCOUNT);
      case "volume-size":
        return List.of(Long.toString(s.volumeGiB));
      case "description":
        return s.description == null ? List.of() : List.of(s.description);
      default:
        throw new AwsError(400, "InvalidParameterValue", "The filter '" + name + "' is invalid");
    }
  }

  private void deleteSnapshot(Map<String, String> p, String region) {
    Snap s = snapshot(required(p, "SnapshotId"), region);
    for (Img i : images.values()) {
      for (Bdm b : i.bdms) {
        if (s.id.equals(b.snapshotId())) {
          throw new AwsError(
              400,
              "InvalidSnapshot.InUse",
              "The snapshot " + s.id + " is currently in use by " + i.id);
        }
      }
    }
    s.deleted = true;
    snapshots.remove(s.id);
    deletedSnapshots.add(s.id);
  }

  private void modifyImageAttribute(Map<String, String> p, String region) {
    Img i = image(required(p, "ImageId"), region);
    List<Map<String, String>> add = structs(p, "LaunchPermission.Add");
    List<Map<String, String>> remove = structs(p, "LaunchPermission.Remove");
    String attribute = p.get("Attribute");
    if (attribute != null && !attribute.equals("launchPermission")) {
      if (attribute.equals("description")) {
        i.description = p.get("Value");
        return;
      }
      throw new AwsError(
          400, "InvalidParameterValue", "Attribute " + attribute + " cannot be modified here");
    }
    // the flat form: OperationType + UserId.N / UserGroup.N / OrganizationArn.N /
    // OrganizationalUnitArn.N
    List<Map<String, String>> flat = new ArrayList<>();
    list(p, "UserId").forEach(u -> flat.add(Map.of("UserId", u)));
    list(p, "UserGroup").forEach(g -> flat.add(Map.of("Group", g)));
    list(p, "OrganizationArn").forEach(o -> flat.add(Map.of("OrganizationArn", o)));
    list(p, "OrganizationalUnitArn").forEach(o -> flat.add(Map.of("OrganizationalUnitArn", o)));
    if (!flat.isEmpty()) {
      String opType = required(p, "OperationType");
      (opType.equals("add") ? add : remove).addAll(flat);
    }
    if (add.isEmpty() && remove.isEmpty()) {
      throw new AwsError(400, "MissingParameter", "no launch permission to add or remove");
    }
    for (Map<String, String> lp : add) {
      applyLaunchPermission(i, lp, true);
    }
    for (Map<String, String> lp : remove) {
      applyLaunchPermission(i, lp, false);
    }
  }

  private static void applyLaunchPermission(Img i, Map<String, String> lp, boolean add) {
    String user = lp.get("UserId");
    String org = lp.get("OrganizationArn");
    String ou = lp.get("OrganizationalUnitArn");
    String group = lp.get("Group");
    if (user != null) {
      if (!user.matches("[0-9]{12}")) {
        throw new AwsError(
            400,
            "InvalidAMIAttributeItemValue",
            "Invalid attribute item value " + user + " for userId");
      }
      if (add) {
        i.lpUsers.add(user);
      } else {
        i.lpUsers.remove(user);
      }
    } else if (org != null) {
      if (!org.matches("arn:aws[a-z-]*:organizations::[0-9]{12}:organization/o-[a-z0-9]{10,32}")) {
        throw new AwsError(400, "InvalidAMIAttributeItemValue", "Invalid organization ARN " + org);
      }
      if (add) {
        i.lpOrgs.add(org);
      } else {
        i.lpOrgs.remove(org);
      }
    } else if (ou != null) {
      if (!ou.matches(
          "arn:aws[a-z-]*:organizations::[0-9]{12}:ou/o-[a-z0-9]{10,32}/ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}")) {
        throw new AwsError(
            400, "InvalidAMIAttributeItemValue", "Invalid organizational unit ARN " + ou);
      }
      if (add) {
        i.lpOus.add(ou);
      } else {
        i.lpOus.remove(ou);
      }
    } else if (group != null) {
      if (!group.equals("all")) {
        throw new AwsError(
            400, "InvalidAMIAttributeItemValue", "Invalid attribute item value " + group);
      }
      i.lpAll = add;
    } else {
      throw new AwsError(400, "InvalidParameterValue", "empty launch permission " + lp);
    }
  }

  private void modifySnapshotAttribute(Map<String, String> p, String region) {
    Snap s = snapshot(required(p, "SnapshotId"), region);
    String attribute = p.getOrDefault("Attribute", "createVolumePermission");
    if (!attribute.equals("createVolumePermission")) {
      throw new AwsError(
          400, "InvalidParameterValue", "Attribute " + attribute + " cannot be modified");
    }
    List<String> addUsers = new ArrayList<>();
    List<String> removeUsers = new ArrayList<>();
    structs(p, "CreateVolumePermission.Add").forEach(m -> addUsers.add(m.get("UserId")));
    structs(p, "CreateVolumePermission.Remove").forEach(m -> removeUsers.add(m.get("UserId")));
    List<String> flat = list(p, "UserId");
    if (!flat.isEmpty()) {
      (required(p, "OperationType").equals("add") ? addUsers : removeUsers).addAll(flat);
    }
    if (!list(p, "UserGroup").isEmpty()) {
      throw new AwsError(
          400, "InvalidParameterValue", "this server does not make snapshots public");
    }
    if (addUsers.isEmpty() && removeUsers.isEmpty()) {
      throw new AwsError(400, "MissingParameter", "no create volume permission to add or remove");
    }
    for (String u : addUsers) {
      if (u == null || !u.matches("[0-9]{12}")) {
        throw new AwsError(400, "InvalidParameterValue", "Invalid user id " + u);
      }
      s.cvpUsers.add(u);
    }
    removeUsers.forEach(s.cvpUsers::remove);
  }

  private void describeImageAttribute(Map<String, String> p, String region, Xml x) {
    Img i = image(required(p, "ImageId"), region);
    String attribute = required(p, "Attribute");
    x.el("imageId", i.id);
    switch (attribute) {
      case "launchPermission":
        x.open("launchPermission");
        i.lpUsers.forEach(u -> x.open("item").el("userId", u).close("item"));
        i.lpOrgs.forEach(o -> x.open("item").el("organizationArn", o).close("item"));
        i.lpOus.forEach(o -> x.open("item").el("organizationalUnitArn", o).close("item"));
        if (i.lpAll) {
          x.open("item").el("group", "all").close("item");
        }
        x.close("launchPermission");
        break;
      case "bootMode":
        x.open("bootMode").el("value", i.bootMode).close("bootMode");
        break;
      case "imdsSupport":
        x.open("imdsSupport").el("value", i.imdsSupport).close("imdsSupport");
        break;
      case "tpmSupport":
        x.open("tpmSupport").el("value", i.tpmSupport).close("tpmSupport");
        break;
      case "description":
        x.open("description").el("value", i.description).close("description");
        break;
      case "blockDeviceMapping":
        bdms(x, i);
        break;
      default:
        throw new AwsError(
            400,
            "InvalidParameterValue",
            "Value (" + attribute + ") for parameter attribute is invalid");
    }
  }

  private void describeSnapshotAttribute(Map<String, String> p, String region, Xml x) {
    Snap s = snapshot(required(p, "SnapshotId"), region);
    String attribute = required(p, "Attribute");
    if (!attribute.equals("createVolumePermission")) {
      throw new AwsError(
          400,
          "InvalidParameterValue",
          "Value (" + attribute + ") for parameter attribute is invalid");
    }
    x.el("snapshotId", s.id);
    x.open("createVolumePermission");
    s.cvpUsers.forEach(u -> x.open("item").el("userId", u).close("item"));
    x.close("createVolumePermission");
  }

  private String copyImage(Map<String, String> p, String region) {
    String sourceRegion = required(p, "SourceRegion");
    String sourceId = required(p, "SourceImageId");
    String name = required(p, "Name");
    String token = p.get("ClientToken");
    if (token != null && copyTokens.containsKey(region + "/" + token)) {
      return copyTokens.get(region + "/" + token);
    }
    Img src = images.get(sourceId);
    if (src == null || !src.region.equals(sourceRegion)) {
      throw new AwsError(
          400,
          "InvalidAMIID.NotFound",
          "The image id '[" + sourceId + "]' does not exist in " + sourceRegion);
    }
    if (!src.state.equals("available")) {
      throw new AwsError(
          400, "IncorrectState", "Image " + sourceId + " is " + src.state + ", not available");
    }
    for (Img other : images.values()) {
      if (other.region.equals(region) && other.name.equals(name)) {
        throw new AwsError(
            400,
            "InvalidAMIName.Duplicate",
            "AMI name " + name + " is already in use by AMI " + other.id);
      }
    }
    Img c = new Img();
    c.id = newId("ami-");
    c.region = region;
    c.name = name;
    c.description = p.getOrDefault("Description", src.description);
    c.architecture = src.architecture;
    c.virtualizationType = src.virtualizationType;
    c.rootDeviceName = src.rootDeviceName;
    c.ena = src.ena;
    c.bootMode = src.bootMode;
    c.imdsSupport = src.imdsSupport;
    c.tpmSupport = src.tpmSupport;
    c.sourceImageId = src.id;
    c.sourceRegion = sourceRegion;
    c.created = Instant.now();
    c.pollsLeft = copyPolls;
    for (Bdm b : src.bdms) {
      String copiedSnap = null;
      if (b.snapshotId() != null) {
        Snap s = snapshots.get(b.snapshotId());
        Snap copy =
            new Snap(newId("snap-"), region, s.volumeGiB, null, 60, null, "copy", Instant.now());
        for (int idx = 0; idx < s.volumeGiB * 2048; idx++) {
          Snap owner = resolveOwner(s, idx);
          if (owner != null) {
            copy.blocks.put(idx, owner.blocks.get(idx));
            copy.digests.put(idx, owner.digests.get(idx));
          }
        }
        copy.status = "completed";
        copy.description =
            "Copied for DestinationAmi "
                + c.id
                + " from SourceAmi "
                + src.id
                + " for SourceSnapshot "
                + s.id
                + ". Task created on "
                + iso(Instant.now())
                + ".";
        snapshots.put(copy.id, copy);
        copiedSnap = copy.id;
      }
      c.bdms.add(
          new Bdm(
              b.deviceName(), copiedSnap, b.volumeSize(), b.deleteOnTermination(), b.volumeType()));
    }
    if (Boolean.parseBoolean(p.getOrDefault("CopyImageTags", "false"))) {
      src.tags.forEach(
          (k, v) -> {
            if (!k.startsWith("aws:")) {
              c.tags.put(k, v);
            }
          });
    }
    for (Map<String, String> spec : structs(p, "TagSpecification")) {
      if ("image".equals(spec.get("ResourceType"))) {
        c.tags.putAll(tagsOf(spec, "Tag"));
      }
    }
    images.put(c.id, c);
    if (token != null) {
      copyTokens.put(region + "/" + token, c.id);
    }
    return c.id;
  }

  /** The bytes of the blocks a volume made from {@code s} holds: its own and its parents'. */
  private static long fullSize(Snap s) {
    Set<Integer> blocks = new java.util.HashSet<>();
    for (Snap c = s; c != null; c = c.parent) {
      blocks.addAll(c.blocks.keySet());
    }
    return (long) blocks.size() * BLOCK_SIZE;
  }

  // ---------------------------------------------------------------- instances

  private void runInstances(Map<String, String> p, String region, Xml x) {
    String imageId = required(p, "ImageId");
    int min = Integer.parseInt(p.getOrDefault("MinCount", "1"));
    int max = Integer.parseInt(p.getOrDefault("MaxCount", Integer.toString(min)));
    if (min < 1 || max < min) {
      throw new AwsError(400, "InvalidParameterValue", "MinCount/MaxCount: " + min + "/" + max);
    }
    Img img = images.get(imageId);
    if (img == null || !img.region.equals(region)) {
      throw new AwsError(
          400, "InvalidAMIID.NotFound", "The image id '[" + imageId + "]' does not exist");
    }
    advance(img);
    if (!img.state.equals("available")) {
      throw new AwsError(400, "InvalidAMIID.Unavailable", "Image " + imageId + " is " + img.state);
    }
    List<Instance> made = new ArrayList<>();
    for (int n = 0; n < max; n++) {
      Instance i = new Instance();
      i.id = newId("i-");
      i.region = region;
      i.imageId = imageId;
      i.launched = Instant.now();
      instances.put(i.id, i);
      made.add(i);
    }
    x.el("reservationId", newId("r-"));
    x.el("ownerId", ACCOUNT);
    x.open("instancesSet");
    made.forEach(i -> instanceXml(x, i));
    x.close("instancesSet");
  }

  private void changeInstances(Map<String, String> p, String region, Xml x, String state) {
    List<String> ids = list(p, "InstanceId");
    if (ids.isEmpty()) {
      throw new AwsError(
          400, "MissingParameter", "The request must contain the parameter InstanceId");
    }
    x.open("instancesSet");
    for (String id : ids) {
      Instance i = instances.get(id);
      if (i == null || !i.region.equals(region)) {
        throw new AwsError(
            400, "InvalidInstanceID.NotFound", "The instance ID '" + id + "' does not exist");
      }
      String before = i.state;
      if (!before.equals("terminated")) {
        i.state = state;
      }
      x.open("item").el("instanceId", id);
      x.open("previousState").el("code", stateCode(before)).el("name", before);
      x.close("previousState");
      x.open("currentState").el("code", stateCode(i.state)).el("name", i.state);
      x.close("currentState");
      x.close("item");
    }
    x.close("instancesSet");
  }

  private void describeInstances(Map<String, String> p, String region, Xml x) {
    List<String> ids = list(p, "InstanceId");
    List<Map<String, String>> filters = structs(p, "Filter");
    checkFilters(filters, INSTANCE_FILTERS);
    List<Instance> out = new ArrayList<>();
    for (Instance i : instances.values()) {
      if (!i.region.equals(region) || (!ids.isEmpty() && !ids.contains(i.id))) {
        continue;
      }
      if (matches(filters, name -> instanceAttribute(i, name))) {
        out.add(i);
      }
    }
    List<Instance> page = page(out, p, x);
    x.open("reservationSet");
    for (Instance i : page) {
      x.open("item");
      x.el("reservationId", "r-" + i.id.substring(2));
      x.el("ownerId", ACCOUNT);
      x.open("instancesSet");
      instanceXml(x, i);
      x.close("instancesSet");
      x.close("item");
    }
    x.close("reservationSet");
  }

  private static List<String> instanceAttribute(Instance i, String name) {
    switch (name) {
      case "image-id":
        return List.of(i.imageId);
      case "instance-state-name":
        return List.of(i.state);
      case "instance-id":
        return List.of(i.id);
      default:
        throw new AwsError(400, "InvalidParameterValue", "The filter '" + name + "' is invalid");
    }
  }

  private static void instanceXml(Xml x, Instance i) {
    x.open("item");
    x.el("instanceId", i.id);
    x.el("imageId", i.imageId);
    x.open("instanceState").el("code", stateCode(i.state)).el("name", i.state);
    x.close("instanceState");
    x.el("instanceType", "t3.micro");
    x.el("launchTime", iso(i.launched));
    x.close("item");
  }

  private static String stateCode(String state) {
    return switch (state) {
      case "pending" -> "0";
      case "running" -> "16";
      case "shutting-down" -> "32";
      case "terminated" -> "48";
      case "stopping" -> "64";
      default -> "80";
    };
  }

  // ---------------------------------------------------------------- launch templates

  private void createLaunchTemplate(Map<String, String> p, String region, Xml x) {
    String name = required(p, "LaunchTemplateName");
    for (LaunchTemplate t : launchTemplates.values()) {
      if (t.region.equals(region) && t.name.equals(name)) {
        throw new AwsError(
            400,
            "InvalidLaunchTemplateName.AlreadyExistsException",
            "Launch template name already in use.");
      }
    }
    LaunchTemplate t = new LaunchTemplate();
    t.id = newId("lt-");
    t.region = region;
    t.name = name;
    t.created = Instant.now();
    t.versions.add(p.get("LaunchTemplateData.ImageId"));
    launchTemplates.put(t.id, t);
    x.open("launchTemplate");
    launchTemplateXml(x, t);
    x.close("launchTemplate");
  }

  private void createLaunchTemplateVersion(Map<String, String> p, String region, Xml x) {
    LaunchTemplate t = launchTemplate(p, region);
    t.versions.add(p.get("LaunchTemplateData.ImageId"));
    x.open("launchTemplateVersion");
    versionXml(x, t, t.versions.size());
    x.close("launchTemplateVersion");
  }

  private void describeLaunchTemplates(Map<String, String> p, String region, Xml x) {
    List<LaunchTemplate> out =
        launchTemplates.values().stream().filter(t -> t.region.equals(region)).toList();
    List<LaunchTemplate> page = page(out, p, x);
    x.open("launchTemplates");
    for (LaunchTemplate t : page) {
      x.open("item");
      launchTemplateXml(x, t);
      x.close("item");
    }
    x.close("launchTemplates");
  }

  private void describeLaunchTemplateVersions(Map<String, String> p, String region, Xml x) {
    List<String> wanted = list(p, "LaunchTemplateVersion");
    List<int[]> out = new ArrayList<>(); // {template index, version}
    List<LaunchTemplate> all = new ArrayList<>(launchTemplates.values());
    if (p.containsKey("LaunchTemplateId") || p.containsKey("LaunchTemplateName")) {
      LaunchTemplate t = launchTemplate(p, region);
      for (int v = 1; v <= t.versions.size(); v++) {
        String n = Integer.toString(v);
        if (wanted.isEmpty()
            || wanted.contains(n)
            || (wanted.contains("$Latest") && v == t.versions.size())
            || (wanted.contains("$Default") && v == t.defaultVersion)) {
          out.add(new int[] {all.indexOf(t), v});
        }
      }
    } else {
      // without a template, AWS describes only the latest or default versions of all of them
      if (wanted.isEmpty()
          || !wanted.stream().allMatch(w -> w.equals("$Latest") || w.equals("$Default"))) {
        throw new AwsError(
            400,
            "InvalidParameterCombination",
            "without LaunchTemplateId or LaunchTemplateName, the versions must be $Latest or"
                + " $Default");
      }
      for (int n = 0; n < all.size(); n++) {
        LaunchTemplate t = all.get(n);
        if (!t.region.equals(region)) {
          continue;
        }
        if (wanted.contains("$Latest")) {
          out.add(new int[] {n, t.versions.size()});
        }
        if (wanted.contains("$Default") && t.defaultVersion != t.versions.size()) {
          out.add(new int[] {n, t.defaultVersion});
        }
      }
    }
    List<int[]> page = page(out, p, x);
    x.open("launchTemplateVersionSet");
    for (int[] tv : page) {
      x.open("item");
      versionXml(x, all.get(tv[0]), tv[1]);
      x.close("item");
    }
    x.close("launchTemplateVersionSet");
  }

  private LaunchTemplate launchTemplate(Map<String, String> p, String region) {
    String id = p.get("LaunchTemplateId");
    String name = p.get("LaunchTemplateName");
    for (LaunchTemplate t : launchTemplates.values()) {
      if (t.region.equals(region) && (t.id.equals(id) || t.name.equals(name))) {
        return t;
      }
    }
    throw new AwsError(
        400,
        id != null
            ? "InvalidLaunchTemplateId.NotFound"
            : "InvalidLaunchTemplateName.NotFoundException",
        "The specified launch template, with template "
            + (id != null ? "ID " + id : "name " + name)
            + ", does not exist.");
  }

  private static void launchTemplateXml(Xml x, LaunchTemplate t) {
    x.el("launchTemplateId", t.id);
    x.el("launchTemplateName", t.name);
    x.el("createTime", iso(t.created));
    x.el("defaultVersionNumber", Integer.toString(t.defaultVersion));
    x.el("latestVersionNumber", Integer.toString(t.versions.size()));
  }

  private static void versionXml(Xml x, LaunchTemplate t, int version) {
    x.el("launchTemplateId", t.id);
    x.el("launchTemplateName", t.name);
    x.el("versionNumber", Integer.toString(version));
    x.el("defaultVersion", Boolean.toString(version == t.defaultVersion));
    x.el("createTime", iso(t.created));
    x.open("launchTemplateData");
    x.el("imageId", t.versions.get(version - 1));
    x.close("launchTemplateData");
  }

  private Img image(String id, String region) {
    Img i = images.get(id);
    if (i == null || !i.region.equals(region)) {
      throw new AwsError(
          400, "InvalidAMIID.NotFound", "The image id '[" + id + "]' does not exist");
    }
    return i;
  }

  private Snap snapshot(String id, String region) {
    Snap s = snapshots.get(id);
    if (s == null || !s.region.equals(region)) {
      throw new AwsError(
          400, "InvalidSnapshot.NotFound", "The snapshot '" + id + "' does not exist.");
    }
    return s;
  }

  private static final Set<String> IMAGE_FILTERS =
      Set.of(
          "tag-key",
          "name",
          "state",
          "image-id",
          "owner-id",
          "architecture",
          "block-device-mapping.snapshot-id");
  private static final Set<String> INSTANCE_FILTERS =
      Set.of("image-id", "instance-state-name", "instance-id");
  private static final Set<String> SNAPSHOT_FILTERS =
      Set.of("tag-key", "status", "snapshot-id", "owner-id", "volume-size", "description");

  private static void checkFilters(List<Map<String, String>> filters, Set<String> known) {
    for (Map<String, String> f : filters) {
      String name = f.get("Name");
      if (name == null || !(name.startsWith("tag:") || known.contains(name))) {
        throw new AwsError(400, "InvalidParameterValue", "The filter '" + name + "' is invalid");
      }
      if (!f.containsKey("Value.1")) {
        throw new AwsError(
            400, "InvalidParameterValue", "The filter '" + name + "' needs at least one value");
      }
    }
  }

  private static boolean ownerMatches(List<String> owners) {
    return owners.isEmpty() || owners.contains("self") || owners.contains(ACCOUNT);
  }

  private static boolean matches(
      List<Map<String, String>> filters,
      java.util.function.Function<String, List<String>> attribute) {
    for (Map<String, String> f : filters) {
      String name = f.get("Name");
      if (name == null) {
        throw new AwsError(400, "InvalidParameterValue", "a filter needs a Name");
      }
      List<String> wanted = new ArrayList<>();
      for (int n = 1; f.containsKey("Value." + n); n++) {
        wanted.add(f.get("Value." + n));
      }
      List<String> actual = attribute.apply(name);
      boolean any = false;
      for (String w : wanted) {
        Pattern glob = glob(w);
        for (String a : actual) {
          if (glob.matcher(a).matches()) {
            any = true;
          }
        }
      }
      if (!any) {
        return false;
      }
    }
    return true;
  }

  private static Pattern glob(String w) {
    StringBuilder r = new StringBuilder();
    for (char c : w.toCharArray()) {
      if (c == '*') {
        r.append(".*");
      } else if (c == '?') {
        r.append('.');
      } else {
        r.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return Pattern.compile(r.toString(), Pattern.DOTALL);
  }

  private static <T> List<T> page(List<T> all, Map<String, String> p, Xml x) {
    int from = p.containsKey("NextToken") ? Integer.parseInt(p.get("NextToken").substring(2)) : 0;
    if (!p.containsKey("MaxResults")) {
      return all.subList(Math.min(from, all.size()), all.size());
    }
    int max = Integer.parseInt(p.get("MaxResults"));
    if (max < 5 || max > 1000) {
      throw new AwsError(400, "InvalidParameterValue", "MaxResults must be 5-1000, found " + max);
    }
    int to = Math.min(all.size(), from + max);
    if (to < all.size()) {
      x.el("nextToken", "o:" + to);
    }
    return all.subList(Math.min(from, all.size()), to);
  }

  private static void tagSet(Xml x, Map<String, String> tags) {
    x.open("tagSet");
    tags.forEach((k, v) -> x.open("item").el("key", k).el("value", v).close("item"));
    x.close("tagSet");
  }

  private static Map<String, String> tagsOf(Map<String, String> struct, String prefix) {
    Map<String, String> t = new LinkedHashMap<>();
    for (Map<String, String> tag : structs(struct, prefix)) {
      t.put(tag.get("Key"), tag.getOrDefault("Value", ""));
    }
    return t;
  }

  private static String required(Map<String, String> p, String name) {
    String v = p.get(name);
    if (v == null || v.isEmpty()) {
      throw new AwsError(400, "MissingParameter", "The request must contain the parameter " + name);
    }
    return v;
  }

  /** Values of {@code prefix.1}, {@code prefix.2}, ... */
  static List<String> list(Map<String, String> p, String prefix) {
    List<String> out = new ArrayList<>();
    for (int n = 1; p.containsKey(prefix + "." + n); n++) {
      out.add(p.get(prefix + "." + n));
    }
    return out;
  }

  /**
   * The members of {@code prefix.1.*}, {@code prefix.2.*}, ..., each keyed by the rest of its name.
   */
  static List<Map<String, String>> structs(Map<String, String> p, String prefix) {
    NavigableMap<Integer, Map<String, String>> byIndex = new TreeMap<>();
    String pre = prefix + ".";
    for (Map.Entry<String, String> e : p.entrySet()) {
      if (!e.getKey().startsWith(pre)) {
        continue;
      }
      String rest = e.getKey().substring(pre.length());
      int dot = rest.indexOf('.');
      if (dot < 0) {
        continue;
      }
      int n;
      try {
        n = Integer.parseInt(rest.substring(0, dot));
      } catch (NumberFormatException ex) {
        continue;
      }
      byIndex
          .computeIfAbsent(n, k -> new LinkedHashMap<>())
          .put(rest.substring(dot + 1), e.getValue());
    }
    return new ArrayList<>(byIndex.values());
  }

  static Map<String, String> parseForm(String body) {
    Map<String, String> p = new LinkedHashMap<>();
    for (String pair : body.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      p.put(k, v);
    }
    return p;
  }

  private static Map<String, String> parseQuery(String q) {
    Map<String, String> p = new LinkedHashMap<>();
    if (q == null) {
      return p;
    }
    for (String pair : q.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      p.put(
          SigV4Verifier.decode(eq < 0 ? pair : pair.substring(0, eq)),
          eq < 0 ? "" : SigV4Verifier.decode(pair.substring(eq + 1)));
    }
    return p;
  }

  private static LoopbackHttp.Response ec2Error(AwsError e, String requestId) {
    String xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>"
            + Xml.escape(e.code)
            + "</Code><Message>"
            + Xml.escape(e.getMessage())
            + "</Message></Error></Errors><RequestID>"
            + requestId
            + "</RequestID></Response>";
    return LoopbackHttp.Response.of(
        e.status, "text/xml;charset=UTF-8", xml.getBytes(StandardCharsets.UTF_8));
  }

  private String newId(String prefix) {
    byte[] b = new byte[9];
    random.nextBytes(b);
    return prefix + HexFormat.of().formatHex(b).substring(0, 17);
  }

  private static String iso(Instant t) {
    return t.truncatedTo(ChronoUnit.MILLIS).toString();
  }

  private static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() ? null : v.asText();
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private SnapshotInfo info(Snap s) {
    return new SnapshotInfo(
        s.id,
        s.region,
        s.visibleStatus(),
        s.volumeGiB,
        Optional.ofNullable(s.parent).map(x -> x.id),
        s.description,
        Map.copyOf(new LinkedHashMap<>(s.tags)),
        Set.copyOf(s.cvpUsers),
        s.startTime,
        Collections.unmodifiableSet(new TreeSet<>(s.blocks.keySet())),
        Optional.ofNullable(s.clientToken),
        s.timeoutMinutes,
        s.completedWithChecksum);
  }

  private ImageInfo info(Img i) {
    return new ImageInfo(
        i.id,
        i.region,
        i.name,
        i.state,
        i.description,
        i.architecture,
        i.virtualizationType,
        i.rootDeviceName,
        i.ena,
        i.bootMode,
        i.imdsSupport,
        i.tpmSupport,
        List.copyOf(i.bdms),
        Map.copyOf(i.tags),
        Set.copyOf(i.lpUsers),
        Set.copyOf(i.lpOrgs),
        Set.copyOf(i.lpOus),
        Optional.ofNullable(i.sourceImageId),
        Optional.ofNullable(i.sourceRegion),
        i.created);
  }

  /** A tiny writer of EC2 Query API answers. */
  static final class Xml {
    private final StringBuilder s = new StringBuilder();
    private final String root;

    Xml(String root, String requestId) {
      this.root = root;
      s.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<")
          .append(root)
          .append(" xmlns=\"")
          .append(EC2_NS)
          .append("\">");
      el("requestId", requestId);
    }

    Xml open(String name) {
      s.append('<').append(name).append('>');
      return this;
    }

    Xml close(String name) {
      s.append("</").append(name).append('>');
      return this;
    }

    Xml el(String name, String value) {
      if (value != null) {
        s.append('<')
            .append(name)
            .append('>')
            .append(escape(value))
            .append("</")
            .append(name)
            .append('>');
      }
      return this;
    }

    byte[] bytes() {
      return (s + "</" + root + ">").getBytes(StandardCharsets.UTF_8);
    }

    static String escape(String v) {
      return v.replace("&", "&amp;")
          .replace("<", "&lt;")
          .replace(">", "&gt;")
          .replace("\"", "&quot;")
          .replace("'", "&apos;");
    }
  }
}
