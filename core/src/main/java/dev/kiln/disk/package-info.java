/**
 * Disk images from layers ({@code raw:} and the disk cache contract): ext4, FAT32, GPT, GRUB,
 * without root. May use {@code dev.kiln}, {@code event} and {@code spi}; never {@code internal}.
 */
package dev.kiln.disk;
