package dev.kiln.vmware.internal.vsphere;

import static com.google.common.base.Preconditions.checkArgument;

import dev.kiln.vmware.auth.Credentials;
import dev.kiln.vmware.auth.TlsTrust;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * A small vSphere Web Services (SOAP, vim25) client for the calls Kiln makes to import an OVF as a
 * template: session login, inventory lookup, property reads, {@code CreateImportSpec}, {@code
 * ImportVApp}, the HttpNfcLease (wait, upload, progress, complete, abort), {@code MarkAsTemplate},
 * {@code Destroy_Task} and task waiting. It speaks the wire protocol over {@link
 * java.net.http.HttpClient}; no generated stubs, no SDK.
 *
 * <pre>{@code
 * try (VsphereClient vc = VsphereClient.connect("vc.example", Credentials.fromEnvironment(), TlsTrust.systemDefault())) {
 *   Optional<ManagedObject> vm = vc.findByInventoryPath("/DC/vm/templates/web");
 * }
 * }</pre>
 *
 * <p>Thread-safe: calls may be made from several threads (the lease keep-alive runs beside an
 * upload).
 */
public final class VsphereClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(VsphereClient.class);

  /**
   * The vim25 API version requested; 6.7 has everything used here and every current vCenter still
   * serves it.
   */
  static final String API_VERSION = "6.7";

  private static final Duration CALL_TIMEOUT = Duration.ofMinutes(5);

  private final URI endpoint;
  private final TlsTrust trust;
  private final Http http;
  private final Map<TlsTrust, Http> hostClients = new ConcurrentHashMap<>();
  private volatile Element serviceContent;
  private volatile boolean loggedIn;

  private VsphereClient(URI endpoint, TlsTrust trust) {
    this.endpoint = endpoint;
    this.trust = trust;
    this.http = new Http(trust);
  }

  /**
   * Connects to {@code https://HOST/sdk} and logs in.
   *
   * @param host a host name or address, with an optional {@code :port}
   * @throws VsphereException with fault type {@code InvalidLogin} if the credentials are refused
   */
  public static VsphereClient connect(String host, Credentials credentials, TlsTrust trust)
      throws IOException {
    checkArgument(
        host != null && !host.isBlank() && !host.contains("/"),
        "expected HOST[:PORT], found '%s'",
        host);
    VsphereClient c = new VsphereClient(URI.create("https://" + host + "/sdk"), trust);
    try {
      c.serviceContent =
          c.call(
                  "RetrieveServiceContent",
                  moref("_this", new ManagedObject("ServiceInstance", "ServiceInstance")))
              .flatMap(r -> Dom.child(r, "returnval"))
              .orElseThrow(() -> new VsphereException("RetrieveServiceContent returned nothing"));
      c.call(
          "Login",
          moref("_this", c.service("sessionManager"))
              + element("userName", credentials.user())
              + element("password", credentials.password()));
      c.loggedIn = true;
      log.debug("logged in to {} (API {})", c.endpoint, c.apiVersion());
      return c;
    } catch (IOException | RuntimeException e) {
      c.close();
      throw e;
    }
  }

  /** The SOAP endpoint, {@code https://HOST/sdk}. */
  public URI endpoint() {
    return endpoint;
  }

  /** The server's API version ({@code about.apiVersion}). */
  public String apiVersion() {
    return Dom.child(serviceContent, "about").flatMap(a -> Dom.text(a, "apiVersion")).orElse("");
  }

  /** The server's product name and version ({@code about.fullName}). */
  public String fullName() {
    return Dom.child(serviceContent, "about").flatMap(a -> Dom.text(a, "fullName")).orElse("");
  }

  /**
   * The object at an inventory path such as {@code /DC/vm/templates/web} ({@code
   * SearchIndex.FindByInventoryPath}), or empty if there is none.
   */
  public Optional<ManagedObject> findByInventoryPath(String path) throws IOException {
    Element r =
        call(
                "FindByInventoryPath",
                moref("_this", service("searchIndex")) + element("inventoryPath", path))
            .orElseThrow();
    return Dom.child(r, "returnval").map(Dom::moref);
  }

  /**
   * Reads properties of one object ({@code PropertyCollector.RetrievePropertiesEx}): property path
   * to value element. Properties the object does not have are left out.
   *
   * @throws VsphereException with fault type {@code ManagedObjectNotFound} if the object does not
   *     exist
   */
  public Map<String, String> properties(ManagedObject obj, String... paths) throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    retrieve(obj, paths).forEach((k, v) -> out.put(k, v.getTextContent()));
    return out;
  }

  Map<String, Element> retrieve(ManagedObject obj, String... paths) throws IOException {
    StringBuilder spec =
        new StringBuilder("<specSet><propSet><type>")
            .append(Dom.escape(obj.type()))
            .append("</type>");
    for (String p : paths) {
      spec.append(element("pathSet", p));
    }
    spec.append("</propSet><objectSet>")
        .append(moref("obj", obj))
        .append("<skip>false</skip></objectSet></specSet>");
    Element r =
        call(
                "RetrievePropertiesEx",
                moref("_this", service("propertyCollector")) + spec + "<options></options>")
            .orElseThrow();
    Map<String, Element> values = new LinkedHashMap<>();
    Optional<Element> objects = Dom.child(r, "returnval").flatMap(rv -> Dom.child(rv, "objects"));
    if (objects.isEmpty()) {
      throw new VsphereException("ManagedObjectNotFound", "no object " + obj);
    }
    for (Element missing : Dom.children(objects.get(), "missingSet")) {
      Optional<Element> fault = Dom.child(missing, "fault").flatMap(f -> Dom.child(f, "fault"));
      if (fault.isPresent() && Dom.xsiType(fault.get()).equals("ManagedObjectNotFound")) {
        throw new VsphereException("ManagedObjectNotFound", "no object " + obj);
      }
    }
    for (Element prop : Dom.children(objects.get(), "propSet")) {
      String name = Dom.text(prop, "name").orElse("");
      Dom.child(prop, "val").ifPresent(v -> values.put(name, v));
    }
    return values;
  }

  /** The objects a folder holds ({@code Folder.childEntity}): VMs, templates, subfolders, … */
  public List<ManagedObject> childEntities(ManagedObject folder) throws IOException {
    List<ManagedObject> out = new ArrayList<>();
    Element val = retrieve(folder, "childEntity").get("childEntity");
    if (val != null) {
      for (Element e : Dom.children(val)) {
        out.add(Dom.moref(e));
      }
    }
    return out;
  }

  /**
   * The root resource pool of a cluster or standalone host, or {@code pool} itself if it is a
   * resource pool.
   */
  public ManagedObject resourcePoolOf(ManagedObject computeOrPool) throws IOException {
    return switch (computeOrPool.type()) {
      case "ResourcePool", "VirtualApp" -> computeOrPool;
      case "ClusterComputeResource", "ComputeResource" -> {
        Element pool = retrieve(computeOrPool, "resourcePool").get("resourcePool");
        if (pool == null) {
          throw new VsphereException(computeOrPool + " has no resource pool");
        }
        yield Dom.moref(pool);
      }
      default ->
          throw new VsphereException(
              "expected a cluster, host or resource pool, found a "
                  + computeOrPool.type()
                  + " ("
                  + computeOrPool
                  + ")");
    };
  }

  /**
   * Asks vSphere to turn an OVF descriptor into an import spec ({@code
   * OvfManager.CreateImportSpec}), with thin disks.
   *
   * @param networkMapping OVF network name to vSphere network
   */
  public ImportSpec createImportSpec(
      String ovfDescriptor,
      ManagedObject pool,
      ManagedObject datastore,
      String entityName,
      Map<String, ManagedObject> networkMapping)
      throws IOException {
    StringBuilder cisp =
        new StringBuilder("<cisp><locale></locale><deploymentOption></deploymentOption>");
    cisp.append(element("entityName", entityName));
    for (Map.Entry<String, ManagedObject> m : networkMapping.entrySet()) {
      cisp.append("<networkMapping>")
          .append(element("name", m.getKey()))
          .append(moref("network", m.getValue()))
          .append("</networkMapping>");
    }
    cisp.append("<diskProvisioning>thin</diskProvisioning></cisp>");
    Element r =
        call(
                "CreateImportSpec",
                moref("_this", service("ovfManager"))
                    + element("ovfDescriptor", ovfDescriptor)
                    + moref("resourcePool", pool)
                    + moref("datastore", datastore)
                    + cisp)
            .orElseThrow();
    Element rv =
        Dom.child(r, "returnval")
            .orElseThrow(() -> new VsphereException("CreateImportSpec returned nothing"));
    Element spec = Dom.child(rv, "importSpec").map(Dom::detach).orElse(null);
    List<ImportSpec.FileItem> items = new ArrayList<>();
    for (Element f : Dom.children(rv, "fileItem")) {
      items.add(
          new ImportSpec.FileItem(
              Dom.text(f, "deviceId").orElse(""),
              Dom.text(f, "path").orElse(""),
              Dom.text(f, "size").map(Long::parseLong).orElse(-1L),
              Dom.text(f, "create").map(Boolean::parseBoolean).orElse(false)));
    }
    return new ImportSpec(spec, items, messages(rv, "warning"), messages(rv, "error"));
  }

  /**
   * Starts importing {@code spec} into {@code folder} ({@code ResourcePool.ImportVApp}) and returns
   * the HttpNfcLease. The virtual machine exists from now on; a caller that does not complete the
   * lease must abort it and destroy the VM.
   */
  public ManagedObject importVApp(ManagedObject pool, ImportSpec spec, ManagedObject folder)
      throws IOException {
    checkArgument(spec.present(), "import spec has no spec: %s", spec.errors());
    StringBuilder body = new StringBuilder(moref("_this", pool));
    spec.writeAsSpec(body);
    body.append(moref("folder", folder));
    Element r = call("ImportVApp", body.toString()).orElseThrow();
    return Dom.child(r, "returnval")
        .map(Dom::moref)
        .orElseThrow(() -> new VsphereException("ImportVApp returned no lease"));
  }

  /**
   * Waits until a lease is ready and returns its entity and device URLs.
   *
   * @throws VsphereException with the lease's error if it fails, or on timeout
   */
  public LeaseInfo waitForLease(ManagedObject lease, Duration timeout) throws IOException {
    Instant deadline = Instant.now().plus(timeout);
    long sleep = 50;
    while (true) {
      String state = text(retrieve(lease, "state").get("state"));
      switch (state) {
        case "ready" -> {
          return leaseInfo(lease, retrieve(lease, "info").get("info"));
        }
        case "error" ->
            throw fault(retrieve(lease, "error").get("error"), "lease " + lease + " failed");
        case "done" -> throw new VsphereException("lease " + lease + " is already done");
        default -> {
          if (Instant.now().isAfter(deadline)) {
            throw new VsphereException(
                "lease " + lease + " not ready after " + timeout + " (state " + state + ")");
          }
          sleep(sleep);
          sleep = Math.min(1000, sleep * 2);
        }
      }
    }
  }

  /** Reports upload progress and keeps the lease from timing out ({@code HttpNfcLeaseProgress}). */
  public void leaseProgress(ManagedObject lease, int percent) throws IOException {
    call(
        "HttpNfcLeaseProgress",
        moref("_this", lease) + element("percent", Integer.toString(percent)));
  }

  /** Ends a lease successfully ({@code HttpNfcLeaseComplete}): the import is done. */
  public void leaseComplete(ManagedObject lease) throws IOException {
    call("HttpNfcLeaseComplete", moref("_this", lease));
  }

  /**
   * Ends a lease in failure ({@code HttpNfcLeaseAbort}) with {@code reason} as the task's error.
   */
  public void leaseAbort(ManagedObject lease, String reason) throws IOException {
    call(
        "HttpNfcLeaseAbort",
        moref("_this", lease)
            + "<fault><fault xsi:type=\"SystemError\">"
            + element("reason", reason)
            + "</fault>"
            + element("localizedMessage", reason)
            + "</fault>");
  }

  /**
   * Sends a file to a lease's device URL: a disk as a streamOptimized VMDK by POST (as ovftool
   * does), other files by PUT. A URL on another host is trusted by the thumbprint the lease gave
   * for it.
   *
   * @param progress hears the running total of bytes sent
   */
  public void upload(
      LeaseInfo.DeviceUrl device,
      boolean create,
      InputStream in,
      long length,
      LongConsumer progress)
      throws IOException {
    URI url = deviceUri(device);
    Http client = http;
    if (!url.getAuthority().equals(endpoint.getAuthority())) {
      client =
          device.sslThumbprint().isBlank()
              ? hostClients.computeIfAbsent(TlsTrust.systemDefault(), Http::new)
              : hostClients.computeIfAbsent(TlsTrust.pinnedHost(device.sslThumbprint()), Http::new);
    }
    Map<String, String> headers =
        create
            ? Map.of("Content-Type", "application/octet-stream", "Overwrite", "t")
            : Map.of("Content-Type", "application/x-vnd.vmware-streamVmdk");
    HttpResponse<byte[]> res =
        client.upload(create ? "PUT" : "POST", url, headers, in, length, progress);
    if (res.statusCode() != 200 && res.statusCode() != 201) {
      throw new VsphereException(
          null,
          "upload to " + url + " answered HTTP " + res.statusCode() + ": " + snippet(res.body()));
    }
  }

  /** The device URL with {@code *} replaced by the host this client is connected to. */
  public URI deviceUri(LeaseInfo.DeviceUrl device) {
    String u = device.url();
    if (u.startsWith("https://*/") || u.startsWith("http://*/")) {
      u = u.replaceFirst("\\*", endpoint.getRawAuthority());
    }
    return URI.create(u);
  }

  /** Marks a powered-off virtual machine as a template ({@code MarkAsTemplate}). */
  public void markAsTemplate(ManagedObject vm) throws IOException {
    call("MarkAsTemplate", moref("_this", vm));
  }

  /** Destroys a managed entity ({@code Destroy_Task}) and waits for the task. */
  public void destroy(ManagedObject entity, Duration timeout) throws IOException {
    Element r = call("Destroy_Task", moref("_this", entity)).orElseThrow();
    ManagedObject task =
        Dom.child(r, "returnval")
            .map(Dom::moref)
            .orElseThrow(() -> new VsphereException("Destroy_Task returned no task"));
    waitForTask(task, timeout);
  }

  /**
   * Waits for a task to succeed and returns its result element's text, if any.
   *
   * @throws VsphereException with the task's fault if it fails, or on timeout
   */
  public Optional<String> waitForTask(ManagedObject task, Duration timeout) throws IOException {
    Instant deadline = Instant.now().plus(timeout);
    long sleep = 50;
    while (true) {
      Element info = retrieve(task, "info").get("info");
      if (info == null) {
        throw new VsphereException("task " + task + " has no info");
      }
      String state = Dom.text(info, "state").orElse("");
      switch (state) {
        case "success" -> {
          return Dom.text(info, "result");
        }
        case "error" ->
            throw fault(Dom.child(info, "error").orElse(null), "task " + task + " failed");
        default -> {
          if (Instant.now().isAfter(deadline)) {
            throw new VsphereException("task " + task + " still " + state + " after " + timeout);
          }
          sleep(sleep);
          sleep = Math.min(1000, sleep * 2);
        }
      }
    }
  }

  /** Reads what Kiln checks of a virtual machine's configuration. */
  public VmConfig vmConfig(ManagedObject vm) throws IOException {
    Map<String, Element> p =
        retrieve(
            vm,
            "name",
            "config.template",
            "config.firmware",
            "config.hardware.numCPU",
            "config.hardware.memoryMB",
            "config.annotation",
            "config.hardware.device");
    List<Long> disks = new ArrayList<>();
    Element devices = p.get("config.hardware.device");
    if (devices != null) {
      for (Element d : Dom.children(devices)) {
        if (Dom.xsiType(d).equals("VirtualDisk")) {
          long bytes = Dom.text(d, "capacityInBytes").map(Long::parseLong).orElse(0L);
          if (bytes == 0) {
            bytes = Dom.text(d, "capacityInKB").map(Long::parseLong).orElse(0L) * 1024;
          }
          disks.add(bytes);
        }
      }
    }
    return new VmConfig(
        text(p.get("name")),
        Boolean.parseBoolean(text(p.get("config.template"))),
        text(p.get("config.firmware")),
        Integer.parseInt(text(p.get("config.hardware.numCPU"), "0")),
        Long.parseLong(text(p.get("config.hardware.memoryMB"), "0")),
        text(p.get("config.annotation")),
        disks);
  }

  /** Logs out. Errors are logged, not thrown: the session expires on its own. */
  @Override
  public void close() {
    if (loggedIn) {
      loggedIn = false;
      try {
        call("Logout", moref("_this", service("sessionManager")));
      } catch (IOException | RuntimeException e) {
        log.debug("logout from {} failed: {}", endpoint, e.toString());
      }
    }
  }

  @Override
  public String toString() {
    return "VsphereClient{" + endpoint + ", " + trust + "}";
  }

  // ---- SOAP ----

  private ManagedObject service(String name) throws VsphereException {
    return Dom.child(serviceContent, name)
        .map(Dom::moref)
        .orElseThrow(() -> new VsphereException("the server's ServiceContent has no " + name));
  }

  /**
   * Calls {@code method} with {@code body} (the parameters' XML) and returns the response element.
   */
  Optional<Element> call(String method, String body) throws IOException {
    String envelope =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
            + "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\""
            + " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\""
            + " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
            + "<soapenv:Body><"
            + method
            + " xmlns=\"urn:vim25\">"
            + body
            + "</"
            + method
            + "></soapenv:Body></soapenv:Envelope>";
    HttpRequest req =
        HttpRequest.newBuilder(endpoint)
            .timeout(CALL_TIMEOUT)
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", "urn:vim25/" + API_VERSION)
            .POST(HttpRequest.BodyPublishers.ofString(envelope, StandardCharsets.UTF_8))
            .build();
    HttpResponse<byte[]> res = http.send(req);
    String type = res.headers().firstValue("Content-Type").orElse("");
    if (!type.toLowerCase(Locale.ROOT).contains("xml")) {
      throw new VsphereException(
          null,
          method
              + ": expected a SOAP answer, got HTTP "
              + res.statusCode()
              + " "
              + type
              + ": "
              + snippet(res.body()));
    }
    Document doc = Dom.parse(res.body());
    Element soapBody =
        Dom.child(doc.getDocumentElement(), "Body")
            .orElseThrow(() -> new VsphereException(method + ": SOAP answer without a Body"));
    Optional<Element> fault = Dom.child(soapBody, "Fault");
    if (fault.isPresent()) {
      Element f = fault.get();
      String message = Dom.text(f, "faultstring").orElse("").strip();
      Optional<Element> detail =
          Dom.child(f, "detail").flatMap(d -> Dom.children(d).stream().findFirst());
      String faultType =
          detail
              .map(
                  d ->
                      Dom.xsiType(d).isEmpty()
                          ? d.getLocalName().replaceFirst("Fault$", "")
                          : Dom.xsiType(d))
              .orElse(Dom.text(f, "faultcode").orElse("ServerFault"));
      throw new VsphereException(
          faultType, method + ": " + (message.isEmpty() ? faultType : message));
    }
    if (res.statusCode() != 200) {
      throw new VsphereException(
          null, method + ": HTTP " + res.statusCode() + ": " + snippet(res.body()));
    }
    return Dom.children(soapBody).stream().findFirst();
  }

  private static VsphereException fault(Element localizedFault, String context) {
    if (localizedFault == null) {
      return new VsphereException(context);
    }
    String message = Dom.text(localizedFault, "localizedMessage").orElse("");
    String type = Dom.child(localizedFault, "fault").map(Dom::xsiType).orElse("");
    return new VsphereException(
        type.isEmpty() ? null : type, context + (message.isEmpty() ? "" : ": " + message));
  }

  private static List<String> messages(Element rv, String name) {
    List<String> out = new ArrayList<>();
    for (Element e : Dom.children(rv, name)) {
      String msg = Dom.text(e, "localizedMessage").orElse("");
      String type = Dom.child(e, "fault").map(Dom::xsiType).orElse("");
      out.add((type.isEmpty() ? "" : type + ": ") + msg);
    }
    return out;
  }

  private static LeaseInfo leaseInfo(ManagedObject lease, Element info) throws VsphereException {
    if (info == null) {
      throw new VsphereException("lease " + lease + " is ready but has no info");
    }
    ManagedObject entity =
        Dom.child(info, "entity")
            .map(Dom::moref)
            .orElseThrow(() -> new VsphereException("lease without entity"));
    List<LeaseInfo.DeviceUrl> urls = new ArrayList<>();
    for (Element d : Dom.children(info, "deviceUrl")) {
      urls.add(
          new LeaseInfo.DeviceUrl(
              Dom.text(d, "key").orElse(""),
              Dom.text(d, "importKey").orElse(""),
              Dom.text(d, "url").orElse(""),
              Dom.text(d, "sslThumbprint").orElse(""),
              Dom.text(d, "disk").map(Boolean::parseBoolean).orElse(false)));
    }
    return new LeaseInfo(lease, entity, urls);
  }

  static String moref(String element, ManagedObject ref) {
    return "<"
        + element
        + " type=\""
        + Dom.escape(ref.type())
        + "\">"
        + Dom.escape(ref.value())
        + "</"
        + element
        + ">";
  }

  static String element(String name, String text) {
    return "<" + name + ">" + Dom.escape(text) + "</" + name + ">";
  }

  private static String text(Element e) {
    return e == null ? "" : e.getTextContent();
  }

  private static String text(Element e, String orElse) {
    return e == null ? orElse : e.getTextContent();
  }

  static String snippet(byte[] body) {
    String s = new String(body, StandardCharsets.UTF_8).strip();
    return s.length() > 300 ? s.substring(0, 300) + "…" : s;
  }

  private static void sleep(long millis) throws InterruptedIOException {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for vSphere");
    }
  }
}
