package dev.kiln.vmware.internal.vsphere;

import com.google.common.collect.ImmutableList;
import java.util.List;
import java.util.Optional;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * The result of {@code OvfManager.CreateImportSpec}: the import spec vSphere made from an OVF
 * descriptor (kept as the server sent it, so it goes back to {@code ImportVApp} unchanged but for
 * what {@link #withConfig} sets), the files it expects, and its warnings and errors.
 *
 * <p>Immutable and thread-safe.
 */
public final class ImportSpec {
  /**
   * The order of {@code VirtualMachineConfigSpec}'s elements in the vim25 schema, which servers may
   * insist on.
   */
  private static final List<String> CONFIG_SPEC_ORDER =
      List.of(
          "changeVersion",
          "name",
          "version",
          "createDate",
          "uuid",
          "instanceUuid",
          "npivNodeWorldWideName",
          "npivPortWorldWideName",
          "npivWorldWideNameType",
          "npivDesiredNodeWwns",
          "npivDesiredPortWwns",
          "npivTemporaryDisabled",
          "npivOnNonRdmDisks",
          "npivWorldWideNameOp",
          "locationId",
          "guestId",
          "alternateGuestName",
          "annotation",
          "files",
          "tools",
          "flags",
          "consolePreferences",
          "powerOpInfo",
          "numCPUs",
          "vcpuConfig",
          "numCoresPerSocket",
          "memoryMB",
          "memoryHotAddEnabled",
          "cpuHotAddEnabled",
          "cpuHotRemoveEnabled",
          "virtualICH7MPresent",
          "virtualSMCPresent",
          "deviceChange",
          "cpuAllocation",
          "memoryAllocation",
          "latencySensitivity",
          "cpuAffinity",
          "memoryAffinity",
          "networkShaper",
          "cpuFeatureMask",
          "extraConfig",
          "swapPlacement",
          "bootOptions",
          "vAppConfig",
          "ftInfo",
          "repConfig",
          "vAppConfigRemoved",
          "vAssertsEnabled",
          "changeTrackingEnabled",
          "firmware",
          "maxMksConnections",
          "guestAutoLockEnabled",
          "managedBy",
          "memoryReservationLockedToMax",
          "nestedHVEnabled",
          "vPMCEnabled",
          "scheduledHardwareUpgradeInfo",
          "vmProfile",
          "messageBusTunnelEnabled",
          "crypto",
          "migrateEncryption",
          "sgxInfo",
          "ftEncryptionMode",
          "guestMonitoringModeInfo",
          "sevEnabled");

  /**
   * A file the import expects.
   *
   * @param deviceId matches {@link LeaseInfo.DeviceUrl#importKey()}
   * @param path the file's {@code href} in the OVF descriptor
   * @param size its size in bytes, if the descriptor gave one
   * @param create whether the file is created (PUT) rather than streamed into a disk (POST)
   */
  public record FileItem(String deviceId, String path, long size, boolean create) {}

  private final Element
      spec; // detached, owned by its own Document, never mutated after construction
  private final List<FileItem> fileItems;
  private final List<String> warnings;
  private final List<String> errors;

  /**
   * {@code spec} must come from {@link Dom#detach}: a document of its own, with normalised type
   * names.
   */
  ImportSpec(Element spec, List<FileItem> fileItems, List<String> warnings, List<String> errors) {
    this.spec = spec;
    this.fileItems = ImmutableList.copyOf(fileItems);
    this.warnings = ImmutableList.copyOf(warnings);
    this.errors = ImmutableList.copyOf(errors);
  }

  /** The spec's type, such as {@code VirtualMachineImportSpec}; empty if vSphere returned none. */
  public String type() {
    return spec == null ? "" : Dom.xsiType(spec);
  }

  /** Whether vSphere returned a spec at all (it does not when the descriptor has errors). */
  public boolean present() {
    return spec != null;
  }

  /** The files to upload. */
  public List<FileItem> fileItems() {
    return fileItems;
  }

  /** vSphere's warnings, as messages. */
  public List<String> warnings() {
    return warnings;
  }

  /** vSphere's errors, as messages: an import spec with errors must not be imported. */
  public List<String> errors() {
    return errors;
  }

  /** The value of a {@code configSpec} element, such as {@code annotation} or {@code firmware}. */
  public Optional<String> config(String element) {
    return configSpec().flatMap(c -> Dom.text(c, element));
  }

  /**
   * A copy whose {@code configSpec} sets {@code annotation} and {@code firmware}, in schema order,
   * replacing values vSphere derived from the descriptor. Servers that honour the descriptor's
   * {@code AnnotationSection} and {@code vmw:Config firmware} already set the same values; setting
   * them here makes the result not depend on it.
   *
   * <p>Named {@code withConfig}, not {@code config} as Kiln's other setters are: {@link
   * #config(String)} already reads one element of the spec, and a {@code config(String, String)}
   * beside it would read as a lookup too.
   */
  public ImportSpec withConfig(String annotation, String firmware) {
    Element copy = Dom.detach(spec);
    Element config =
        Dom.child(copy, "configSpec")
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "import spec of type " + type() + " has no configSpec"));
    set(config, "annotation", annotation);
    set(config, "firmware", firmware);
    return new ImportSpec(copy, fileItems, warnings, errors);
  }

  /**
   * The spec as the body of an {@code ImportVApp} {@code spec} element, with its {@code xsi:type}.
   */
  void writeAsSpec(StringBuilder out) {
    out.append("<spec xsi:type=\"").append(Dom.escape(type())).append("\">");
    Dom.writeChildren(spec, out);
    out.append("</spec>");
  }

  private Optional<Element> configSpec() {
    return spec == null ? Optional.empty() : Dom.child(spec, "configSpec");
  }

  private static void set(Element config, String name, String value) {
    for (Element existing : Dom.children(config, name)) {
      config.removeChild(existing);
    }
    Element e = config.getOwnerDocument().createElementNS(Dom.VIM, name);
    e.setTextContent(value);
    int rank = CONFIG_SPEC_ORDER.indexOf(name);
    Node before = null;
    for (Element c : Dom.children(config)) {
      int r = CONFIG_SPEC_ORDER.indexOf(c.getLocalName());
      if (r > rank) {
        before = c;
        break;
      }
    }
    config.insertBefore(e, before);
  }

  @Override
  public String toString() {
    return "ImportSpec{"
        + type()
        + ", "
        + fileItems.size()
        + " file(s), "
        + errors.size()
        + " error(s)}";
  }
}
