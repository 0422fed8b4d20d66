#!/usr/bin/env bash
# The supply-chain test over every kind of target (cli's SupplyChainAllTargetsIT): one definition (Debian with a
# kernel, a packages layer installing curl, a files layer with a jar, an Ansible layer) baked with SBOMs, provenance
# and a signature to docker:// (a local registry), oci-archive:, ova: and ec2:// (the loopback AWS server), whose SBOMs
# list curl and the jar by layer; then the same definition from a second checkout gives byte-equal SBOMs. Not part of
# scripts/test.sh: it takes about 5 minutes; each target's own signing and SBOM tests are in the suite.
# Usage: scripts/test-supply-chain.sh   (as root on Debian; runs scripts/setup-test-env.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test-env.sh
mvn -B -pl cli -am verify -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
  -Dit.test=SupplyChainAllTargetsIT -Dfailsafe.failIfNoSpecifiedTests=false -Dkiln.it.excludes=none
