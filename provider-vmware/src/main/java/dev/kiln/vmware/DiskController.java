package dev.kiln.vmware;

/**
 * The virtual controller the disk hangs on, as the OVF descriptor declares it. The guest's kernel
 * must have a driver for it built in (or in its initramfs) to boot: Debian's cloud kernel has NVMe
 * built in.
 */
public enum DiskController {
  /** NVMe (needs hardware version vmx-13 or later); what EC2 Nitro presents too. */
  NVME(20, "vmware.nvme.controller", "NVMe Controller", "nvmeController0"),
  /** VMware Paravirtual SCSI. */
  PVSCSI(6, "VirtualSCSI", "SCSI Controller", "SCSI Controller 0"),
  /** SATA (AHCI). */
  SATA(20, "vmware.sata.ahci", "SATA Controller", "sataController0");

  private final int resourceType;
  private final String resourceSubType;
  private final String description;
  private final String elementName;

  DiskController(int resourceType, String resourceSubType, String description, String elementName) {
    this.resourceType = resourceType;
    this.resourceSubType = resourceSubType;
    this.description = description;
    this.elementName = elementName;
  }

  /** The CIM resource type ({@code rasd:ResourceType}). */
  public int resourceType() {
    return resourceType;
  }

  /** VMware's name for the controller ({@code rasd:ResourceSubType}). */
  public String resourceSubType() {
    return resourceSubType;
  }

  String description() {
    return description;
  }

  String elementName() {
    return elementName;
  }
}
