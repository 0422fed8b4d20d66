package dev.kiln.vmware;

import dev.kiln.Digest;

/**
 * What {@link VmdkWriter} wrote: the virtual disk's size, the file's size, and the identifiers it
 * derived from the disk's content.
 *
 * @param capacityBytes the virtual disk size in bytes (the raw disk size rounded up to a whole
 *     512-byte sector)
 * @param fileSize the size of the VMDK file in bytes
 * @param populatedBytes bytes of the virtual disk held in grains (non-zero 64 KiB grains times 64
 *     KiB); the OVF descriptor reports it as {@code ovf:populatedSize}
 * @param grains the number of grains written (zero grains are skipped)
 * @param cid the descriptor's content id, 8 lowercase hex digits
 * @param contentId a SHA-256 over the disk's capacity and its non-zero grains with their positions:
 *     equal for two disks with the same content, whatever their zero runs were stored as; the CID,
 *     {@code ddb.longContentID} and {@code ddb.uuid} are taken from it
 */
public record VmdkInfo(
    long capacityBytes,
    long fileSize,
    long populatedBytes,
    long grains,
    String cid,
    Digest contentId) {}
