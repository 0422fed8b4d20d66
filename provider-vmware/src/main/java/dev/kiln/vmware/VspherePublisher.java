package dev.kiln.vmware;

import com.google.common.annotations.VisibleForTesting;
import dev.kiln.Digest;
import dev.kiln.ImageStoreException;
import dev.kiln.InvalidTargetException;
import dev.kiln.vmware.auth.Credentials;
import dev.kiln.vmware.auth.TlsTrust;
import dev.kiln.vmware.internal.vsphere.ContentLibraryClient;
import dev.kiln.vmware.internal.vsphere.ImportSpec;
import dev.kiln.vmware.internal.vsphere.LeaseInfo;
import dev.kiln.vmware.internal.vsphere.ManagedObject;
import dev.kiln.vmware.internal.vsphere.VmConfig;
import dev.kiln.vmware.internal.vsphere.VsphereClient;
import dev.kiln.vmware.internal.vsphere.VsphereException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * Publishes an OVF package (loose files or an OVA, as {@link OvfPackage} writes them) to a {@code
 * vsphere://} target, as a VM template in an inventory folder or as an OVF template item in a
 * content library.
 *
 * <p>Publishing is idempotent and never overwrites: the package's annotation carries the Kiln image
 * digest ({@link DigestNote}), and the template's annotation (or the item's description) is read
 * back first. The same digest there means the image is already published and nothing is uploaded;
 * anything else under the same name is refused. A failure after the import started aborts the
 * HttpNfcLease and destroys the partial VM (or cancels the update session and deletes the new
 * item).
 *
 * <pre>{@code
 * VsphereTarget target =
 *     VsphereTarget.parse("vsphere://vc.example/DC/vm/templates/web?datastore=ds1&pool=C1");
 * PublishResult r = VspherePublisher.to(target)
 *     .credentials(Credentials.fromEnvironment())
 *     .publish(ovfFiles);
 * }</pre>
 *
 * <p>Immutable and thread-safe; each publish opens its own sessions.
 */
public final class VspherePublisher {
  private static final Logger log = LoggerFactory.getLogger(VspherePublisher.class);
  private static final String PENDING_LABEL = "Kiln-Upload-Pending";
  private static final int MAX_DESCRIPTION = 2000;

  private final VsphereTarget target;
  private final Credentials credentials; // null: from the environment, when publishing
  private final TlsTrust trust;
  private final Duration keepAlive;
  private final Duration timeout;
  private final PublishListener listener;
  private final UnaryOperator<InputStream> interceptor;

  private VspherePublisher(
      VsphereTarget target,
      Credentials credentials,
      TlsTrust trust,
      Duration keepAlive,
      Duration timeout,
      PublishListener listener,
      UnaryOperator<InputStream> interceptor) {
    this.target = target;
    this.credentials = credentials;
    this.trust = trust;
    this.keepAlive = keepAlive;
    this.timeout = timeout;
    this.listener = listener;
    this.interceptor = interceptor;
  }

  /**
   * A publisher to {@code target}, with credentials from the environment ({@link
   * Credentials#fromEnvironment()}), the target's TLS trust, a lease keep-alive every 20 s and a 30
   * min limit on each wait.
   *
   * @throws InvalidTargetException if the target lacks what its mode needs
   */
  public static VspherePublisher to(VsphereTarget target) {
    target.checkComplete();
    return new VspherePublisher(
        target,
        null,
        target.trust(),
        Duration.ofSeconds(20),
        Duration.ofMinutes(30),
        new PublishListener() {},
        s -> s);
  }

  /** A copy that logs in with {@code credentials}. */
  public VspherePublisher credentials(Credentials credentials) {
    return new VspherePublisher(
        target,
        Objects.requireNonNull(credentials),
        trust,
        keepAlive,
        timeout,
        listener,
        interceptor);
  }

  /**
   * A copy that trusts vCenter's certificate as {@code trust} says (instead of the target's
   * thumbprint option).
   */
  public VspherePublisher trust(TlsTrust trust) {
    return new VspherePublisher(
        target,
        credentials,
        Objects.requireNonNull(trust),
        keepAlive,
        timeout,
        listener,
        interceptor);
  }

  /**
   * A copy that reports lease progress every {@code interval} while uploading (vSphere drops idle
   * leases).
   */
  public VspherePublisher leaseKeepAlive(Duration interval) {
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("keep-alive interval must be positive, found " + interval);
    }
    return new VspherePublisher(
        target, credentials, trust, interval, timeout, listener, interceptor);
  }

  /** A copy that waits at most {@code timeout} for each lease, task or update session. */
  public VspherePublisher timeout(Duration timeout) {
    return new VspherePublisher(
        target,
        credentials,
        trust,
        keepAlive,
        Objects.requireNonNull(timeout),
        listener,
        interceptor);
  }

  /** A copy that reports to {@code listener}. */
  VspherePublisher listener(PublishListener listener) {
    return new VspherePublisher(
        target,
        credentials,
        trust,
        keepAlive,
        timeout,
        Objects.requireNonNull(listener),
        interceptor);
  }

  /**
   * A copy that passes every uploaded file's stream through {@code interceptor} (tests inject
   * failures with it).
   */
  @VisibleForTesting
  VspherePublisher uploadInterceptor(UnaryOperator<InputStream> interceptor) {
    return new VspherePublisher(
        target,
        credentials,
        trust,
        keepAlive,
        timeout,
        listener,
        Objects.requireNonNull(interceptor));
  }

  /** The target. */
  public VsphereTarget target() {
    return target;
  }

  /**
   * The Kiln image digest of the complete template (or library item) at the target, or empty if
   * there is nothing there, or something that is not a complete Kiln image.
   */
  public Optional<Digest> publishedDigest() throws ImageStoreException {
    try {
      if (target.mode() == VsphereTarget.Mode.TEMPLATE) {
        try (VsphereClient vc = soap()) {
          Optional<ManagedObject> vm = vc.findByInventoryPath(target.inventoryPath());
          if (vm.isEmpty()) {
            return Optional.empty();
          }
          VmConfig c = vc.vmConfig(vm.get());
          return c.template() ? DigestNote.find(c.annotation()) : Optional.empty();
        }
      }
      try (ContentLibraryClient cl = rest()) {
        Optional<String> item = findItem(cl);
        if (item.isEmpty()) {
          return Optional.empty();
        }
        return DigestNote.find(cl.item(item.get()).description());
      }
    } catch (IOException e) {
      throw new ImageStoreException(
          target.toString(), "cannot read what the target holds: " + e.getMessage(), e);
    }
  }

  /** Publishes loose OVF files. */
  public PublishResult publish(OvfFiles files) throws ImageStoreException {
    return publish(OvfSource.of(files));
  }

  /** Publishes an OVA. */
  public PublishResult publish(OvaArchive ova) throws ImageStoreException {
    return publish(ova.file());
  }

  /** Publishes an OVA file. */
  public PublishResult publish(Path ova) throws ImageStoreException {
    try {
      return publish(OvfSource.ova(ova));
    } catch (IOException e) {
      throw new ImageStoreException(
          target.toString(), "cannot read " + ova + ": " + e.getMessage(), e);
    }
  }

  private PublishResult publish(OvfSource source) throws ImageStoreException {
    Descriptor d;
    try {
      d = Descriptor.parse(source.descriptor());
    } catch (IOException e) {
      throw new ImageStoreException(
          target.toString(), "cannot read the OVF descriptor of " + source.label(), e);
    }
    Digest digest =
        DigestNote.find(d.annotation())
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        source.label()
                            + " carries no Kiln image digest in its annotation: write it with"
                            + " OvfPackage.imageDigest(digest) so that the template can be"
                            + " recognised later"));
    try {
      return target.mode() == VsphereTarget.Mode.TEMPLATE
          ? publishTemplate(source, d, digest)
          : publishLibraryItem(source, d, digest);
    } catch (ImageStoreException e) {
      throw e;
    } catch (IOException e) {
      throw new ImageStoreException(target.toString(), e.getMessage(), e);
    }
  }

  // ---- inventory template ----

  private PublishResult publishTemplate(OvfSource source, Descriptor d, Digest digest)
      throws IOException, ImageStoreException {
    String t = target.toString();
    try (VsphereClient vc = soap()) {
      require(vc, target.datacenterPath(), Set.of("Datacenter"), "datacenter");
      ManagedObject folder = require(vc, target.folderPath(), Set.of("Folder"), "folder");
      Optional<ManagedObject> existing = vc.findByInventoryPath(target.inventoryPath());
      if (existing.isPresent()) {
        return alreadyThere(vc, existing.get(), digest);
      }
      ManagedObject pool =
          vc.resourcePoolOf(
              require(
                  vc,
                  target.datacenterPath() + "/host/" + target.pool().orElseThrow(),
                  Set.of("ClusterComputeResource", "ComputeResource", "ResourcePool", "VirtualApp"),
                  "resource pool"));
      ManagedObject datastore =
          require(
              vc,
              target.datacenterPath() + "/datastore/" + target.datastore().orElseThrow(),
              Set.of("Datastore"),
              "datastore");
      Map<String, ManagedObject> networks = new LinkedHashMap<>();
      if (target.network().isPresent()) {
        ManagedObject net =
            require(
                vc,
                target.datacenterPath() + "/network/" + target.network().get(),
                Set.of("Network", "DistributedVirtualPortgroup", "OpaqueNetwork"),
                "network");
        for (String n : d.networks()) {
          networks.put(n, net);
        }
      }

      ImportSpec spec =
          vc.createImportSpec(source.descriptor(), pool, datastore, target.name(), networks);
      for (String w : spec.warnings()) {
        log.warn("{}: vSphere warns about the OVF descriptor: {}", t, w);
      }
      if (!spec.errors().isEmpty() || !spec.present()) {
        throw new ImageStoreException(
            t, "vSphere does not accept the OVF descriptor: " + spec.errors());
      }
      // the time line orders templates for retention (VsphereLifecycle)
      spec =
          spec.withConfig(
              DigestNote.stamp(d.annotation(), digest, java.time.Instant.now()), d.firmware());

      ManagedObject lease = vc.importVApp(pool, spec, folder);
      LeaseInfo info = null;
      boolean complete = false;
      AtomicLong sent = new AtomicLong();
      ScheduledExecutorService timer = null;
      try {
        info = vc.waitForLease(lease, timeout);
        listener.leaseReady(info);
        long total = 0;
        for (ImportSpec.FileItem item : spec.fileItems()) {
          total += source.entry(item.path()).size();
        }
        timer = keepAlive(vc, lease, sent, total);
        long before = 0;
        for (ImportSpec.FileItem item : spec.fileItems()) {
          LeaseInfo.DeviceUrl device = device(info, item);
          OvfSource.Entry entry = source.entry(item.path());
          long base = before;
          Progress progress = new Progress(entry, n -> sent.set(base + n));
          try (InputStream in = interceptor.apply(source.open(entry))) {
            vc.upload(device, item.create(), in, entry.size(), progress);
          }
          progress.done();
          before += entry.size();
        }
        stop(timer);
        timer = null;
        vc.leaseProgress(lease, 100);
        vc.leaseComplete(lease);
        complete = true;
        vc.markAsTemplate(info.entity());
        log.info(
            "{}: imported {} as template {} ({} bytes)",
            t,
            source.label(),
            info.entity(),
            sent.get());
        return new PublishResult(t, digest, true, sent.get(), info.entity().value());
      } catch (IOException | RuntimeException e) {
        stop(timer);
        rollBack(vc, lease, complete, info, digest, e);
        throw new ImageStoreException(
            t,
            "import failed" + (complete ? "" : " and was rolled back") + ": " + e.getMessage(),
            e);
      }
    }
  }

  private PublishResult alreadyThere(VsphereClient vc, ManagedObject vm, Digest digest)
      throws IOException, ImageStoreException {
    String t = target.toString();
    VmConfig c = vc.vmConfig(vm);
    Optional<Digest> there = DigestNote.find(c.annotation());
    if (there.equals(Optional.of(digest))) {
      if (c.template()) {
        log.info("{}: template {} already holds image {}; nothing to upload", t, vm, digest);
        return new PublishResult(t, digest, false, 0, vm.value());
      }
      throw new ImageStoreException(
          t,
          "a VM "
              + target.inventoryPath()
              + " with this image ("
              + digest
              + ") exists but is not a template: an interrupted import, or a template someone"
              + " converted to a VM. Kiln does not touch it: remove it (or mark it as a template)"
              + " and publish again");
    }
    throw new ImageStoreException(
        t,
        "a different "
            + (c.template() ? "template" : "VM")
            + " already exists at "
            + target.inventoryPath()
            + " ("
            + there.map(x -> "Kiln image " + x).orElse("not made by Kiln")
            + ", this image is "
            + digest
            + "). Kiln never overwrites a template: publish under another name, or remove the old"
            + " one first");
  }

  private static LeaseInfo.DeviceUrl device(LeaseInfo info, ImportSpec.FileItem item)
      throws VsphereException {
    for (LeaseInfo.DeviceUrl d : info.deviceUrls()) {
      if (d.importKey().equals(item.deviceId())) {
        return d;
      }
    }
    throw new VsphereException(
        "the lease has no device URL for " + item.deviceId() + " (" + item.path() + ")");
  }

  private ScheduledExecutorService keepAlive(
      VsphereClient vc, ManagedObject lease, AtomicLong sent, long total) {
    ScheduledExecutorService timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread th = new Thread(r, "kiln-vsphere-lease-keepalive");
              th.setDaemon(true);
              return th;
            });
    long period = keepAlive.toMillis();
    timer.scheduleAtFixedRate(
        () -> {
          int percent = total == 0 ? 0 : (int) Math.min(99, sent.get() * 100 / total);
          try {
            vc.leaseProgress(lease, percent);
            listener.leaseKeptAlive(percent);
          } catch (IOException | RuntimeException e) {
            log.warn("{}: keeping lease {} alive failed: {}", target, lease, e.toString());
          }
        },
        period,
        period,
        TimeUnit.MILLISECONDS);
    return timer;
  }

  private static void stop(ScheduledExecutorService timer) {
    if (timer != null) {
      timer.shutdown(); // cancels the next runs; a progress call under way finishes
      try {
        timer.awaitTermination(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Aborts the lease (unless complete) and destroys the VM the import created. Failures are added
   * to {@code cause}.
   */
  private void rollBack(
      VsphereClient vc,
      ManagedObject lease,
      boolean complete,
      LeaseInfo info,
      Digest digest,
      Exception cause) {
    if (!complete) {
      try {
        vc.leaseAbort(lease, "Kiln aborted the import: " + cause.getMessage());
      } catch (IOException | RuntimeException e) {
        cause.addSuppressed(e);
      }
    }
    try {
      ManagedObject vm = info != null ? info.entity() : null;
      if (vm == null) {
        // the lease never became ready: find the VM by path, and only if it carries this import's
        // digest
        Optional<ManagedObject> found = vc.findByInventoryPath(target.inventoryPath());
        if (found.isPresent()
            && DigestNote.find(vc.vmConfig(found.get()).annotation()).equals(Optional.of(digest))) {
          vm = found.get();
        }
      }
      if (vm != null) {
        try {
          vc.destroy(vm, timeout);
        } catch (VsphereException e) {
          if (!e.is(
              "ManagedObjectNotFound")) { // vCenter removes the VM itself when a lease is aborted
            throw e;
          }
        }
        log.info("{}: removed partial VM {} after a failed import", target, vm);
      }
    } catch (IOException | RuntimeException e) {
      cause.addSuppressed(e);
    }
  }

  // ---- content library ----

  private PublishResult publishLibraryItem(OvfSource source, Descriptor d, Digest digest)
      throws IOException, ImageStoreException {
    String t = target.toString();
    String libraryName = target.library().orElseThrow();
    try (ContentLibraryClient cl = rest()) {
      List<String> libraries = cl.findLibraries(libraryName);
      if (libraries.size() > 1) {
        throw new ImageStoreException(
            t, libraries.size() + " content libraries are named " + libraryName);
      }
      String library;
      if (libraries.isEmpty()) {
        library = createLibrary(cl, libraryName);
      } else {
        library = libraries.get(0);
        Optional<String> existing = cl.findItem(library, target.name());
        if (existing.isPresent()) {
          return itemAlreadyThere(cl, existing.get(), digest);
        }
      }

      String item =
          cl.createItem(
              library,
              target.name(),
              "ovf",
              PENDING_LABEL + ": " + digest + "\n(upload in progress)");
      String session = null;
      long total = source.entries().stream().mapToLong(OvfSource.Entry::size).sum();
      AtomicLong sent = new AtomicLong();
      try {
        session = cl.createUpdateSession(item);
        long before = 0;
        for (OvfSource.Entry entry : source.entries()) {
          java.net.URI endpoint = cl.addFile(session, entry.name(), entry.size());
          long base = before;
          Progress progress = new Progress(entry, n -> sent.set(base + n));
          try (InputStream in = interceptor.apply(source.open(entry))) {
            cl.upload(endpoint, in, entry.size(), progress);
          }
          progress.done();
          before += entry.size();
        }
        cl.complete(session, timeout);
        cl.updateDescription(item, description(d.annotation(), digest));
        log.info(
            "{}: uploaded {} as library item {} ({} of {} bytes)",
            t,
            source.label(),
            item,
            sent.get(),
            total);
        return new PublishResult(t, digest, true, sent.get(), item);
      } catch (IOException | RuntimeException e) {
        if (session != null) {
          try {
            cl.cancel(session);
          } catch (IOException | RuntimeException x) {
            e.addSuppressed(x);
          }
        }
        try {
          cl.deleteItem(item);
        } catch (IOException | RuntimeException x) {
          e.addSuppressed(x);
        }
        throw new ImageStoreException(
            t, "upload to the content library failed and was rolled back: " + e.getMessage(), e);
      }
    }
  }

  private String createLibrary(ContentLibraryClient cl, String name)
      throws IOException, ImageStoreException {
    String t = target.toString();
    if (target.datastore().isEmpty()) {
      throw new ImageStoreException(
          t,
          "no content library named "
              + name
              + ", and no datastore= to create it on: create it, or add ?datastore=DS");
    }
    ManagedObject ds;
    try (VsphereClient vc = soap()) {
      ds =
          require(
              vc,
              target.datacenterPath() + "/datastore/" + target.datastore().get(),
              Set.of("Datastore"),
              "datastore");
    }
    String id = cl.createLocalLibrary(name, ds.value());
    log.info("{}: created content library {} ({}) on {}", t, name, id, ds);
    return id;
  }

  private PublishResult itemAlreadyThere(ContentLibraryClient cl, String itemId, Digest digest)
      throws IOException, ImageStoreException {
    String t = target.toString();
    ContentLibraryClient.Item item = cl.item(itemId);
    Optional<Digest> there = DigestNote.find(item.description());
    if (there.equals(Optional.of(digest))) {
      log.info("{}: library item {} already holds image {}; nothing to upload", t, itemId, digest);
      return new PublishResult(t, digest, false, 0, itemId);
    }
    if (item.description().contains(PENDING_LABEL + ": " + digest)) {
      throw new ImageStoreException(
          t,
          "library item "
              + target.name()
              + " is an upload of this image that is in progress or was interrupted; if no other"
              + " bake is running, delete the item and publish again");
    }
    throw new ImageStoreException(
        t,
        "a different item "
            + target.name()
            + " already exists in library "
            + target.library().orElseThrow()
            + " ("
            + there.map(x -> "Kiln image " + x).orElse("not a complete Kiln image")
            + ", this image is "
            + digest
            + "). Kiln never overwrites: publish under another name, or delete the old item first");
  }

  /**
   * The item description: the annotation, shortened if needed, always ending with the digest line.
   */
  static String description(String annotation, Digest digest) {
    String full = DigestNote.append(annotation, digest);
    if (full.length() <= MAX_DESCRIPTION) {
      return full;
    }
    String line = DigestNote.line(digest);
    String text = full.substring(0, full.length() - line.length()).strip();
    return text.substring(0, MAX_DESCRIPTION - line.length() - 3) + "…\n\n" + line;
  }

  // ---- shared ----

  private VsphereClient soap() throws IOException {
    return VsphereClient.connect(target.host(), credentials(), trust);
  }

  private ContentLibraryClient rest() throws IOException {
    return ContentLibraryClient.connect(target.host(), credentials(), trust);
  }

  private Credentials credentials() {
    return credentials != null ? credentials : Credentials.fromEnvironment();
  }

  private Optional<String> findItem(ContentLibraryClient cl) throws IOException {
    List<String> libs = cl.findLibraries(target.library().orElseThrow());
    if (libs.size() != 1) {
      return Optional.empty();
    }
    return cl.findItem(libs.get(0), target.name());
  }

  private ManagedObject require(VsphereClient vc, String path, Set<String> types, String what)
      throws IOException, ImageStoreException {
    Optional<ManagedObject> o = vc.findByInventoryPath(path);
    if (o.isEmpty()) {
      throw new ImageStoreException(target.toString(), "no " + what + " at inventory path " + path);
    }
    if (!types.contains(o.get().type())) {
      throw new ImageStoreException(
          target.toString(),
          path + " is a " + o.get().type() + ", expected a " + what + " (" + types + ")");
    }
    return o.get();
  }

  /** Tracks one file's bytes for the listener, at most once per MiB. */
  private final class Progress implements java.util.function.LongConsumer {
    private final OvfSource.Entry entry;
    private final java.util.function.LongConsumer total;
    private long reported = -1;
    private long last;

    Progress(OvfSource.Entry entry, java.util.function.LongConsumer total) {
      this.entry = entry;
      this.total = total;
    }

    @Override
    public synchronized void accept(long n) {
      last = n;
      total.accept(n);
      if (n - reported >= (1 << 20)) {
        reported = n;
        listener.bytesUploaded(entry.name(), n, entry.size());
      }
    }

    synchronized void done() {
      if (reported != last || last == 0) {
        reported = last;
        listener.bytesUploaded(entry.name(), last, entry.size());
      }
    }
  }

  /** What the publisher needs from the OVF descriptor. */
  record Descriptor(String annotation, String firmware, List<String> networks) {
    private static final String OVF = "http://schemas.dmtf.org/ovf/envelope/1";
    private static final String VMW = "http://www.vmware.com/schema/ovf";

    static Descriptor parse(String xml) throws IOException {
      Document doc;
      try {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        doc =
            f.newDocumentBuilder()
                .parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
      } catch (Exception e) {
        throw new IOException("unreadable OVF descriptor: " + e.getMessage(), e);
      }
      String annotation = "";
      NodeList a = doc.getElementsByTagNameNS(OVF, "Annotation");
      if (a.getLength() > 0) {
        annotation = a.item(0).getTextContent();
      }
      String firmware = "bios";
      NodeList configs = doc.getElementsByTagNameNS(VMW, "Config");
      for (int i = 0; i < configs.getLength(); i++) {
        Element c = (Element) configs.item(i);
        if ("firmware".equals(c.getAttributeNS(VMW, "key"))) {
          firmware = c.getAttributeNS(VMW, "value");
        }
      }
      List<String> networks = new ArrayList<>();
      NodeList nets = doc.getElementsByTagNameNS(OVF, "Network");
      for (int i = 0; i < nets.getLength(); i++) {
        Node n = nets.item(i);
        if (n instanceof Element e && e.hasAttributeNS(OVF, "name")) {
          networks.add(e.getAttributeNS(OVF, "name"));
        }
      }
      return new Descriptor(annotation, firmware, networks);
    }
  }
}
