/**
 * SBOMs (SPDX 2.3 and CycloneDX 1.6 JSON) and SLSA provenance of baked images, and the DSSE
 * envelope form a signer signs: the {@code dev.kiln.spi.Attestor} that {@code
 * Kiln.builder().sbom(…)} and {@code .provenance(true)} find on the class path. Uses the API and
 * the SPI only, never {@code internal}.
 */
package dev.kiln.sbom;
