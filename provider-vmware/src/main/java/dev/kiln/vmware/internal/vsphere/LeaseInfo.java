package dev.kiln.vmware.internal.vsphere;

import com.google.common.collect.ImmutableList;
import java.util.List;

/**
 * A ready HttpNfcLease: the entity being imported and where to send each file.
 *
 * @param lease the lease
 * @param entity the virtual machine being created
 * @param deviceUrls one per device that takes a file
 */
public record LeaseInfo(ManagedObject lease, ManagedObject entity, List<DeviceUrl> deviceUrls) {
  public LeaseInfo {
    deviceUrls = ImmutableList.copyOf(deviceUrls);
  }

  /**
   * Where one device's file goes.
   *
   * @param key the device key
   * @param importKey matches {@link ImportSpec.FileItem#deviceId()}
   * @param url the upload URL; a host of {@code *} stands for the host the client connected to
   * @param sslThumbprint the ESXi host's certificate thumbprint, empty if the URL is on the
   *     connected host
   * @param disk whether the device is a disk
   */
  public record DeviceUrl(
      String key, String importKey, String url, String sslThumbprint, boolean disk) {}
}
