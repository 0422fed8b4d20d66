package dev.kiln.vmware;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;

import com.google.common.hash.Hashing;
import com.google.common.hash.HashingOutputStream;
import com.google.common.io.ByteStreams;
import com.google.common.io.MoreFiles;
import com.google.common.io.RecursiveDeleteOption;
import dev.kiln.Digest;
import dev.kiln.SigningKey;
import dev.kiln.spi.ContentSigner;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Packages a raw disk as an OVF virtual machine: a streamOptimized VMDK, an OVF 1.0 descriptor in
 * the form vSphere exports (EFI firmware, CPUs, memory, the disk on an NVMe, PVSCSI or SATA
 * controller, a VMXNET3 NIC on a named network, product and annotation sections) and a manifest of
 * SHA-256 lines ({@code SHA256(web.ovf)= <hex>}), either as loose files ({@code ovf:DIR}) or as one
 * OVA tar with the descriptor first, then the manifest, then the disk.
 *
 * <pre>{@code
 * OvaArchive ova = OvfPackage.named("web")
 *     .cpus(2).memoryMiB(4096)
 *     .diskController(DiskController.NVME).network("VM Network")
 *     .annotation(recordSummary).imageDigest(imageDigest)
 *     .writeOva(Path.of("disk.raw"), Path.of("web.ova"));
 * }</pre>
 *
 * <p>Everything written is reproducible: the same disk and options give the same bytes (fixed tar
 * times, owners and modes; the VMDK writer is reproducible too). Immutable and thread-safe.
 */
public final class OvfPackage {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,79}");
  private static final Pattern HW_VERSION = Pattern.compile("vmx-([0-9]{1,3})");
  static final String VMDK_FORMAT =
      "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized";

  /**
   * Product information for the descriptor's {@code ProductSection}; empty strings are left out.
   */
  public record Product(String name, String vendor, String version, String fullVersion) {
    public Product {
      Objects.requireNonNull(name, "name");
      vendor = Objects.requireNonNullElse(vendor, "");
      version = Objects.requireNonNullElse(version, "");
      fullVersion = Objects.requireNonNullElse(fullVersion, "");
    }

    /** A product with a name, vendor and version. */
    public static Product of(String name, String vendor, String version) {
      return new Product(name, vendor, version, "");
    }
  }

  private final String name;
  private final int cpus;
  private final long memoryMiB;
  private final String hardwareVersion;
  private final Firmware firmware;
  private final DiskController controller;
  private final String network;
  private final String guestOs;
  private final String annotation;
  private final Product product;
  private final Digest imageDigest;
  private final Instant mtime;
  private final VmdkWriter vmdkWriter;
  private final ContentSigner signer;

  private OvfPackage(
      String name,
      int cpus,
      long memoryMiB,
      String hardwareVersion,
      Firmware firmware,
      DiskController controller,
      String network,
      String guestOs,
      String annotation,
      Product product,
      Digest imageDigest,
      Instant mtime,
      VmdkWriter vmdkWriter,
      ContentSigner signer) {
    this.name = name;
    this.cpus = cpus;
    this.memoryMiB = memoryMiB;
    this.hardwareVersion = hardwareVersion;
    this.firmware = firmware;
    this.controller = controller;
    this.network = network;
    this.guestOs = guestOs;
    this.annotation = annotation;
    this.product = product;
    this.imageDigest = imageDigest;
    this.mtime = mtime;
    this.vmdkWriter = vmdkWriter;
    this.signer = signer;
  }

  /**
   * A package for a virtual machine called {@code name} (also the base of the file names), with 2
   * CPUs, 2048 MiB, hardware version vmx-14, EFI firmware, the disk on NVMe, a VMXNET3 NIC on "VM
   * Network" and guest OS {@code other4xLinux64Guest}.
   *
   * @throws IllegalArgumentException if the name is not 1-80 characters of {@code A-Za-z0-9._-}
   *     starting with a letter or digit
   */
  public static OvfPackage named(String name) {
    checkArgument(
        name != null && NAME.matcher(name).matches(),
        "a package name is 1-80 characters of A-Za-z0-9._- starting with a letter or digit, found"
            + " '%s'",
        name);
    return new OvfPackage(
        name,
        2,
        2048,
        "vmx-14",
        Firmware.EFI,
        DiskController.NVME,
        "VM Network",
        "other4xLinux64Guest",
        "",
        null,
        null,
        defaultMtime(),
        VmdkWriter.defaults(),
        null);
  }

  /** A copy with {@code cpus} virtual CPUs. */
  public OvfPackage cpus(int cpus) {
    checkArgument(cpus >= 1 && cpus <= 768, "CPU count must be 1..768, found %s", cpus);
    return copy(b -> b.cpus = cpus);
  }

  /** A copy with {@code mib} MiB of memory (a multiple of 4, as vSphere requires). */
  public OvfPackage memoryMiB(long mib) {
    checkArgument(
        mib >= 4 && mib % 4 == 0, "memory must be a positive multiple of 4 MiB, found %s", mib);
    return copy(b -> b.memoryMiB = mib);
  }

  /**
   * A copy with virtual hardware version {@code version}, such as {@code vmx-14} (ESXi 6.7) or
   * {@code vmx-19}.
   */
  public OvfPackage hardwareVersion(String version) {
    checkArgument(
        version != null && HW_VERSION.matcher(version).matches(),
        "hardware version must look like vmx-14, found '%s'",
        version);
    return copy(b -> b.hardwareVersion = version);
  }

  /**
   * A copy with the given firmware. Only {@link Firmware#EFI} for now: the disks Kiln builds boot
   * only with UEFI (they have no legacy BIOS boot code), so a BIOS virtual machine would not boot.
   *
   * @throws IllegalArgumentException for {@link Firmware#BIOS}
   */
  public OvfPackage firmware(Firmware firmware) {
    Objects.requireNonNull(firmware, "firmware");
    checkArgument(
        firmware == Firmware.EFI,
        "firmware(%s) is not supported yet: the disks Kiln builds boot only with UEFI (no legacy BIOS boot"
            + " code); use Firmware.EFI (the default)",
        firmware);
    return copy(b -> b.firmware = firmware);
  }

  /** A copy with the disk on the given controller. */
  public OvfPackage diskController(DiskController controller) {
    return copy(b -> b.controller = Objects.requireNonNull(controller, "controller"));
  }

  /**
   * A copy whose NIC is on the OVF network {@code network} (mapped to a vSphere network at import).
   */
  public OvfPackage network(String network) {
    checkArgument(network != null && !network.isBlank(), "network name must not be blank");
    return copy(b -> b.network = network);
  }

  /** A copy with no NIC and no network section. */
  public OvfPackage noNetwork() {
    return copy(b -> b.network = null);
  }

  /**
   * A copy with VMware guest OS identifier {@code vmwareOsType}, such as {@code debian12_64Guest}.
   */
  public OvfPackage guestOs(String vmwareOsType) {
    checkArgument(
        vmwareOsType != null && vmwareOsType.matches("[A-Za-z0-9_]+"),
        "guest OS must be a VMware identifier such as other4xLinux64Guest, found '%s'",
        vmwareOsType);
    return copy(b -> b.guestOs = vmwareOsType);
  }

  /** A copy with the VM annotation (notes) {@code text}; Kiln passes the image record's summary. */
  public OvfPackage annotation(String text) {
    return copy(b -> b.annotation = Objects.requireNonNull(text, "text"));
  }

  /** A copy with a product section. */
  public OvfPackage product(Product product) {
    return copy(b -> b.product = Objects.requireNonNull(product, "product"));
  }

  /**
   * A copy whose annotation ends with the Kiln image digest line ({@link DigestNote}), which {@code
   * vsphere://} publishing needs to recognise the template later.
   */
  public OvfPackage imageDigest(Digest digest) {
    return copy(b -> b.imageDigest = Objects.requireNonNull(digest, "digest"));
  }

  /** A copy whose OVA tar entries carry {@code mtime} (whole seconds) instead of the default. */
  public OvfPackage modificationTime(Instant mtime) {
    checkArgument(
        mtime != null && mtime.getEpochSecond() >= 0, "mtime must not be before the epoch");
    return copy(b -> b.mtime = Instant.ofEpochSecond(mtime.getEpochSecond()));
  }

  /** A copy that writes the disk with {@code writer}. */
  public OvfPackage vmdkWriter(VmdkWriter writer) {
    return copy(b -> b.vmdkWriter = Objects.requireNonNull(writer, "writer"));
  }

  /**
   * A copy that signs the package: beside the manifest it writes the OVF certificate {@code
   * NAME.cert} (DSP0243, "OVF certificate file"), the line {@code SHA256(NAME.mf)= <hex of the
   * signature>} — the signer's signature of the manifest's bytes — followed by the signer's
   * certificate chain as PEM, leaf first. In an OVA it follows the manifest.
   *
   * @throws IllegalArgumentException when the signer has no certificate: the OVF certificate
   *     carries one, and verifiers (vSphere, ovftool) take the public key from it
   */
  public OvfPackage signedWith(ContentSigner signer) {
    Objects.requireNonNull(signer, "signer");
    checkArgument(!signer.certificates().isEmpty(), NO_CERTIFICATE);
    return copy(b -> b.signer = signer);
  }

  /**
   * Why an OVF package cannot be signed by a signer without a certificate; the message {@link
   * #signedWith} and the {@code ova:} and {@code ovf:} targets give.
   */
  static final String NO_CERTIFICATE =
      "an OVA signature needs a certificate: SigningKey.fromPem(key, cert) (the OVF certificate"
          + " file NAME.cert holds the signer's X.509 certificate, from which vSphere and ovftool"
          + " take the key that verifies the manifest)";

  /** The signer of the package's manifest, if it is signed. */
  public Optional<ContentSigner> signer() {
    return Optional.ofNullable(signer);
  }

  /** The VM name. */
  public String name() {
    return name;
  }

  /** The number of virtual CPUs. */
  public int cpus() {
    return cpus;
  }

  /** Memory in MiB. */
  public long memoryMiB() {
    return memoryMiB;
  }

  /** The virtual hardware version, such as {@code vmx-14}. */
  public String hardwareVersion() {
    return hardwareVersion;
  }

  /** The firmware. */
  public Firmware firmware() {
    return firmware;
  }

  /** The disk controller. */
  public DiskController diskController() {
    return controller;
  }

  /** The OVF network the NIC is on; empty when there is no NIC. */
  public Optional<String> network() {
    return Optional.ofNullable(network);
  }

  /** The VMware guest OS identifier. */
  public String guestOs() {
    return guestOs;
  }

  /**
   * The annotation as the VM will show it: the given text and, if an image digest was given, its
   * line.
   */
  public String annotation() {
    return imageDigest == null ? annotation : DigestNote.append(annotation, imageDigest);
  }

  /** The Kiln image digest, if given. */
  public Optional<Digest> imageDigest() {
    return Optional.ofNullable(imageDigest);
  }

  /** The descriptor's file name, {@code NAME.ovf}. */
  public String descriptorName() {
    return name + ".ovf";
  }

  /** The manifest's file name, {@code NAME.mf}. */
  public String manifestName() {
    return name + ".mf";
  }

  /** The OVF certificate's file name, {@code NAME.cert} (written when the package is signed). */
  public String certificateName() {
    return name + ".cert";
  }

  /** The disk's file name, {@code NAME-disk1.vmdk}. */
  public String vmdkName() {
    return name + "-disk1.vmdk";
  }

  /**
   * Writes the disk, descriptor and manifest into {@code directory} (created if missing; files of
   * the same names are replaced, each atomically), and the OVF certificate when the package is
   * signed ({@link #signedWith}). Without a signer, a {@code NAME.cert} left there by an earlier
   * signed write is removed: it would no longer match the manifest.
   */
  public OvfFiles writeOvf(Path rawDisk, Path directory) throws IOException {
    checkHardware();
    Files.createDirectories(directory);
    Path vmdkPath = directory.resolve(vmdkName());
    VmdkInfo disk = vmdkWriter.write(rawDisk, vmdkPath);
    PackagedFile vmdk = new PackagedFile(vmdkName(), Files.size(vmdkPath), sha256(vmdkPath));

    byte[] ovf = descriptor(disk, vmdk.size()).getBytes(StandardCharsets.UTF_8);
    writeAtomically(directory.resolve(descriptorName()), ovf);
    PackagedFile descriptor = new PackagedFile(descriptorName(), ovf.length, Digest.of(ovf));

    byte[] mf = manifest(List.of(descriptor, vmdk)).getBytes(StandardCharsets.US_ASCII);
    writeAtomically(directory.resolve(manifestName()), mf);
    PackagedFile manifest = new PackagedFile(manifestName(), mf.length, Digest.of(mf));
    List<PackagedFile> files = new ArrayList<>(List.of(descriptor, manifest));
    Path certPath = directory.resolve(certificateName());
    if (signer != null) {
      byte[] cert = certificate(manifestName(), mf, signer).getBytes(StandardCharsets.US_ASCII);
      writeAtomically(certPath, cert);
      files.add(new PackagedFile(certificateName(), cert.length, Digest.of(cert)));
    } else {
      Files.deleteIfExists(certPath);
    }
    files.add(vmdk);
    return new OvfFiles(directory, files, disk);
  }

  /**
   * Writes {@code rawDisk} as an OVA at {@code ova}. The loose files are made in a temporary
   * directory beside it and removed afterwards; the OVA is moved into place when complete.
   */
  public OvaArchive writeOva(Path rawDisk, Path ova) throws IOException {
    Path target = ova.toAbsolutePath();
    Files.createDirectories(target.getParent());
    Path work = Files.createTempDirectory(target.getParent(), "." + target.getFileName() + ".");
    try {
      return writeOva(writeOvf(rawDisk, work), target);
    } finally {
      MoreFiles.deleteRecursively(work, RecursiveDeleteOption.ALLOW_INSECURE);
    }
  }

  /**
   * Archives already written loose files as an OVA at {@code ova}: a POSIX ustar file with the
   * descriptor first, then the manifest, then the certificate if the files have one, then the disk,
   * each with mode 0644, owner 0:0 and this package's modification time.
   */
  public OvaArchive writeOva(OvfFiles files, Path ova) throws IOException {
    Path target = ova.toAbsolutePath();
    Files.createDirectories(target.getParent());
    Path tmp =
        target.resolveSibling(
            "." + target.getFileName() + "." + Long.toHexString(System.nanoTime()));
    try {
      HashingOutputStream hashing;
      try (OutputStream raw = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW);
          OutputStream buffered = new BufferedOutputStream(raw, 1 << 20)) {
        hashing = new HashingOutputStream(Hashing.sha256(), buffered);
        TarArchiveOutputStream tar =
            new TarArchiveOutputStream(hashing, StandardCharsets.UTF_8.name());
        tar.setBigNumberMode(
            TarArchiveOutputStream.BIGNUMBER_POSIX); // a disk over 8 GiB gets a PAX size record
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_ERROR);
        for (PackagedFile f : files.files()) {
          TarArchiveEntry e = new TarArchiveEntry(f.name(), true);
          e.setSize(f.size());
          e.setMode(0100644);
          e.setLastModifiedTime(FileTime.from(mtime));
          e.setUserId(0);
          e.setGroupId(0);
          e.setUserName("");
          e.setGroupName("");
          tar.putArchiveEntry(e);
          try (InputStream in = Files.newInputStream(files.path(f))) {
            long n = ByteStreams.copy(in, tar);
            if (n != f.size()) {
              throw new IOException(
                  f.name() + " changed while it was archived: expected " + f.size() + " bytes");
            }
          }
          tar.closeArchiveEntry();
        }
        tar.finish();
        hashing.flush();
      }
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return new OvaArchive(
          target,
          Files.size(target),
          new Digest(hashing.hash().toString()),
          files.files(),
          files.disk());
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * The OVF descriptor for a disk that {@link VmdkWriter} reported as {@code disk}, in a file of
   * {@code vmdkSize}.
   */
  public String descriptor(VmdkInfo disk, long vmdkSize) {
    checkHardware();
    Xml x = new Xml();
    x.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.raw(
        "<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\""
            + " xmlns:cim=\"http://schemas.dmtf.org/wbem/wscim/1/common\""
            + " xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\""
            + " xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData\""
            + " xmlns:vmw=\"http://www.vmware.com/schema/ovf\""
            + " xmlns:vssd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData\""
            + " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n");
    x.raw("  <References>\n");
    x.raw("    <File ovf:href=\"")
        .attr(vmdkName())
        .raw("\" ovf:id=\"file1\" ovf:size=\"")
        .raw(vmdkSize + "\"/>\n");
    x.raw("  </References>\n");
    x.raw("  <DiskSection>\n");
    x.raw("    <Info>Virtual disk information</Info>\n");
    x.raw(
        "    <Disk ovf:capacity=\""
            + disk.capacityBytes()
            + "\" ovf:capacityAllocationUnits=\"byte\"");
    x.raw(" ovf:diskId=\"vmdisk1\" ovf:fileRef=\"file1\" ovf:format=\"" + VMDK_FORMAT + "\"");
    x.raw(" ovf:populatedSize=\"" + disk.populatedBytes() + "\"/>\n");
    x.raw("  </DiskSection>\n");
    if (network != null) {
      x.raw("  <NetworkSection>\n");
      x.raw("    <Info>The list of logical networks</Info>\n");
      x.raw("    <Network ovf:name=\"").attr(network).raw("\">\n");
      x.raw("      <Description>The ").text(network).raw(" network</Description>\n");
      x.raw("    </Network>\n");
      x.raw("  </NetworkSection>\n");
    }
    x.raw("  <VirtualSystem ovf:id=\"").attr(name).raw("\">\n");
    x.raw("    <Info>A virtual machine</Info>\n");
    x.raw("    <Name>").text(name).raw("</Name>\n");
    x.raw("    <OperatingSystemSection ovf:id=\"100\" vmw:osType=\"").attr(guestOs).raw("\">\n");
    x.raw("      <Info>The kind of installed guest operating system</Info>\n");
    x.raw("    </OperatingSystemSection>\n");
    x.raw("    <VirtualHardwareSection>\n");
    x.raw("      <Info>Virtual hardware requirements</Info>\n");
    x.raw("      <System>\n");
    x.raw("        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>\n");
    x.raw("        <vssd:InstanceID>0</vssd:InstanceID>\n");
    x.raw("        <vssd:VirtualSystemIdentifier>")
        .text(name)
        .raw("</vssd:VirtualSystemIdentifier>\n");
    x.raw("        <vssd:VirtualSystemType>")
        .text(hardwareVersion)
        .raw("</vssd:VirtualSystemType>\n");
    x.raw("      </System>\n");
    // rasd:* children in the alphabetical order the CIM schema requires
    x.raw("      <Item>\n");
    x.raw("        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>\n");
    x.raw("        <rasd:Description>Number of Virtual CPUs</rasd:Description>\n");
    x.raw("        <rasd:ElementName>" + cpus + " virtual CPU(s)</rasd:ElementName>\n");
    x.raw("        <rasd:InstanceID>1</rasd:InstanceID>\n");
    x.raw("        <rasd:ResourceType>3</rasd:ResourceType>\n");
    x.raw("        <rasd:VirtualQuantity>" + cpus + "</rasd:VirtualQuantity>\n");
    x.raw("      </Item>\n");
    x.raw("      <Item>\n");
    x.raw("        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>\n");
    x.raw("        <rasd:Description>Memory Size</rasd:Description>\n");
    x.raw("        <rasd:ElementName>" + memoryMiB + "MB of memory</rasd:ElementName>\n");
    x.raw("        <rasd:InstanceID>2</rasd:InstanceID>\n");
    x.raw("        <rasd:ResourceType>4</rasd:ResourceType>\n");
    x.raw("        <rasd:VirtualQuantity>" + memoryMiB + "</rasd:VirtualQuantity>\n");
    x.raw("      </Item>\n");
    x.raw("      <Item>\n");
    x.raw("        <rasd:Address>0</rasd:Address>\n");
    x.raw("        <rasd:Description>" + controller.description() + "</rasd:Description>\n");
    x.raw("        <rasd:ElementName>" + controller.elementName() + "</rasd:ElementName>\n");
    x.raw("        <rasd:InstanceID>3</rasd:InstanceID>\n");
    x.raw(
        "        <rasd:ResourceSubType>"
            + controller.resourceSubType()
            + "</rasd:ResourceSubType>\n");
    x.raw("        <rasd:ResourceType>" + controller.resourceType() + "</rasd:ResourceType>\n");
    x.raw("      </Item>\n");
    x.raw("      <Item>\n");
    x.raw("        <rasd:AddressOnParent>0</rasd:AddressOnParent>\n");
    x.raw("        <rasd:ElementName>Hard Disk 1</rasd:ElementName>\n");
    x.raw("        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>\n");
    x.raw("        <rasd:InstanceID>4</rasd:InstanceID>\n");
    x.raw("        <rasd:Parent>3</rasd:Parent>\n");
    x.raw("        <rasd:ResourceType>17</rasd:ResourceType>\n");
    x.raw("      </Item>\n");
    if (network != null) {
      x.raw("      <Item>\n");
      x.raw("        <rasd:AddressOnParent>7</rasd:AddressOnParent>\n");
      x.raw("        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>\n");
      x.raw("        <rasd:Connection>").text(network).raw("</rasd:Connection>\n");
      x.raw("        <rasd:Description>VmxNet3 ethernet adapter on &quot;")
          .text(network)
          .raw("&quot;</rasd:Description>\n");
      x.raw("        <rasd:ElementName>Ethernet 1</rasd:ElementName>\n");
      x.raw("        <rasd:InstanceID>5</rasd:InstanceID>\n");
      x.raw("        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType>\n");
      x.raw("        <rasd:ResourceType>10</rasd:ResourceType>\n");
      x.raw("      </Item>\n");
    }
    x.raw("      <vmw:Config ovf:required=\"false\" vmw:key=\"firmware\" vmw:value=\"")
        .raw(firmware.vmwareName())
        .raw("\"/>\n");
    if (firmware == Firmware.EFI) {
      x.raw(
          "      <vmw:Config ovf:required=\"false\" vmw:key=\"bootOptions.efiSecureBootEnabled\"");
      x.raw(" vmw:value=\"false\"/>\n");
    }
    x.raw("    </VirtualHardwareSection>\n");
    String notes = annotation();
    if (!notes.isEmpty()) {
      x.raw("    <AnnotationSection>\n");
      x.raw("      <Info>A human-readable annotation</Info>\n");
      x.raw("      <Annotation>").text(notes).raw("</Annotation>\n");
      x.raw("    </AnnotationSection>\n");
    }
    if (product != null) {
      x.raw("    <ProductSection>\n");
      x.raw("      <Info>Information about the installed software</Info>\n");
      x.raw("      <Product>").text(product.name()).raw("</Product>\n");
      optional(x, "Vendor", product.vendor());
      optional(x, "Version", product.version());
      optional(x, "FullVersion", product.fullVersion());
      x.raw("    </ProductSection>\n");
    }
    x.raw("  </VirtualSystem>\n");
    x.raw("</Envelope>\n");
    return x.toString();
  }

  /**
   * The manifest for {@code files}: one {@code SHA256(NAME)= hex} line each, in order, LF line
   * ends.
   */
  public static String manifest(List<PackagedFile> files) {
    StringBuilder sb = new StringBuilder();
    for (PackagedFile f : files) {
      sb.append("SHA256(").append(f.name()).append(")= ").append(f.sha256().hex()).append('\n');
    }
    return sb.toString();
  }

  /**
   * The OVF certificate of a manifest: {@code SHA256(NAME.mf)= <hex>} — the lowercase hex of {@code
   * signer}'s signature (ASN.1 DER) of {@code manifest}'s bytes — then the signer's certificates as
   * PEM, leaf first; LF line ends. What {@code openssl dgst -sha256 -sign key.pem -hex} and ovftool
   * write.
   *
   * @throws IllegalArgumentException when the signer has no certificate
   */
  public static String certificate(String manifestName, byte[] manifest, ContentSigner signer)
      throws IOException {
    List<X509Certificate> chain = signer.certificates();
    checkArgument(!chain.isEmpty(), NO_CERTIFICATE);
    checkArgument(
        signer.algorithm().startsWith("SHA256with"),
        "an OVF certificate names SHA256 as its digest, but the signer signs with %s",
        signer.algorithm());
    StringBuilder sb =
        new StringBuilder("SHA256(")
            .append(manifestName)
            .append(")= ")
            .append(HexFormat.of().formatHex(signer.sign(manifest)))
            .append('\n');
    for (X509Certificate c : chain) {
      sb.append(SigningKey.toPem(c));
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    return "OvfPackage{"
        + name
        + ", "
        + cpus
        + " CPU, "
        + memoryMiB
        + " MiB, "
        + hardwareVersion
        + ", "
        + firmware
        + ", "
        + controller
        + (network != null ? ", network '" + network + "'" : ", no NIC")
        + "}";
  }

  private void checkHardware() {
    var m = HW_VERSION.matcher(hardwareVersion);
    checkState(m.matches());
    int hw = Integer.parseInt(m.group(1));
    checkArgument(
        controller != DiskController.NVME || hw >= 13,
        "an NVMe controller needs hardware version vmx-13 or later, found %s: use"
            + " hardwareVersion(\"vmx-14\")",
        hardwareVersion);
    checkArgument(
        controller != DiskController.SATA || hw >= 10,
        "a SATA controller needs hardware version vmx-10 or later, found %s",
        hardwareVersion);
  }

  private static void optional(Xml x, String element, String value) {
    if (!value.isEmpty()) {
      x.raw("      <" + element + ">").text(value).raw("</" + element + ">\n");
    }
  }

  static Digest sha256(Path file) throws IOException {
    return new Digest(
        com.google.common.io.Files.asByteSource(file.toFile()).hash(Hashing.sha256()).toString());
  }

  private static void writeAtomically(Path target, byte[] content) throws IOException {
    Path tmp =
        target.resolveSibling(
            "." + target.getFileName() + "." + Long.toHexString(System.nanoTime()));
    try {
      Files.write(tmp, content, StandardOpenOption.CREATE_NEW);
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private static Instant defaultMtime() {
    String epoch = System.getenv("SOURCE_DATE_EPOCH");
    if (epoch != null && epoch.matches("[0-9]{1,12}")) {
      return Instant.ofEpochSecond(Long.parseLong(epoch));
    }
    return Instant.ofEpochSecond(1);
  }

  /** A mutable copy of the fields, for the {@code with*} methods. */
  private static final class Fields {
    String name;
    int cpus;
    long memoryMiB;
    String hardwareVersion;
    Firmware firmware;
    DiskController controller;
    String network;
    String guestOs;
    String annotation;
    Product product;
    Digest imageDigest;
    Instant mtime;
    VmdkWriter vmdkWriter;
    ContentSigner signer;
  }

  private OvfPackage copy(java.util.function.Consumer<Fields> change) {
    Fields b = new Fields();
    b.name = name;
    b.cpus = cpus;
    b.memoryMiB = memoryMiB;
    b.hardwareVersion = hardwareVersion;
    b.firmware = firmware;
    b.controller = controller;
    b.network = network;
    b.guestOs = guestOs;
    b.annotation = annotation;
    b.product = product;
    b.imageDigest = imageDigest;
    b.mtime = mtime;
    b.vmdkWriter = vmdkWriter;
    b.signer = signer;
    change.accept(b);
    return new OvfPackage(
        b.name,
        b.cpus,
        b.memoryMiB,
        b.hardwareVersion,
        b.firmware,
        b.controller,
        b.network,
        b.guestOs,
        b.annotation,
        b.product,
        b.imageDigest,
        b.mtime,
        b.vmdkWriter,
        b.signer);
  }

  /** Minimal XML text building with escaping. */
  static final class Xml {
    private final StringBuilder sb = new StringBuilder(4096);

    Xml raw(String s) {
      sb.append(s);
      return this;
    }

    Xml text(String s) {
      return escape(s, false);
    }

    Xml attr(String s) {
      return escape(s, true);
    }

    private Xml escape(String s, boolean attribute) {
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        switch (c) {
          case '\n' -> sb.append(attribute ? "&#10;" : "\n");
          case '\t' -> sb.append(attribute ? "&#9;" : "\t");
          case '&' -> sb.append("&amp;");
          case '<' -> sb.append("&lt;");
          case '>' -> sb.append("&gt;");
          case '"' -> sb.append("&quot;");
          case '\r' -> sb.append("&#13;");
          default -> {
            if (c < 0x20) {
              sb.append('\uFFFD'); // not allowed in XML 1.0
            } else {
              sb.append(c);
            }
          }
        }
      }
      return this;
    }

    @Override
    public String toString() {
      return sb.toString();
    }
  }
}
