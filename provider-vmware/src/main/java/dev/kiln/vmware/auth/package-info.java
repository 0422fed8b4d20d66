/**
 * How Kiln signs in to vCenter and which certificates it trusts there: {@link
 * dev.kiln.vmware.auth.Credentials} and {@link dev.kiln.vmware.auth.TlsTrust}. Uses nothing else of
 * the module, so the publisher and its internal clients can both use it.
 */
package dev.kiln.vmware.auth;
