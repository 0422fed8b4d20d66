package dev.kiln.vmware;

import dev.kiln.Digest;

/**
 * What a {@code vsphere://} publish did.
 *
 * @param target the target, in canonical form
 * @param imageDigest the Kiln image digest the template or item carries
 * @param uploaded false when the target already held this image and nothing was sent
 * @param bytesUploaded the bytes sent (0 when nothing was)
 * @param location the template VM's managed object id ({@code vm-42}) or the library item's id
 */
public record PublishResult(
    String target, Digest imageDigest, boolean uploaded, long bytesUploaded, String location) {}
