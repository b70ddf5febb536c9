import ipaddr from 'ipaddr.js';

/**
 * Where Herald may send requests. Deployed (allowPrivateTargets = false): https only, and
 * never an address inside the operator's network or the cloud metadata service, so a customer's
 * URL cannot turn Herald into a proxy. Locally, http and loopback are allowed for development.
 */

/** ipaddr.js range names that are publicly routable. Everything else is refused. */
const PUBLIC_RANGES = new Set(['unicast']);
/** Addresses ipaddr.js calls unicast but that still reach provider infrastructure. */
const EXTRA_BLOCKED_CIDRS: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [
  ipaddr.parseCIDR('fd00:ec2::/32'), // AWS IMDS / DNS over IPv6 (also unique-local, belt and braces)
  ipaddr.parseCIDR('100.64.0.0/10'), // CGNAT, shared address space
  ipaddr.parseCIDR('192.0.0.0/24'), // IETF protocol assignments
  ipaddr.parseCIDR('198.18.0.0/15'), // benchmarking
];

export function addressRefusal(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return `'${address}' is not an IP address`;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) forms reach v4 hosts.
    if (v6.isIPv4MappedAddress()) parsed = v6.toIPv4Address();
    else if (v6.toByteArray().slice(0, 12).every((b) => b === 0)) parsed = ipaddr.fromByteArray(v6.toByteArray().slice(12));
  }
  const range = parsed.range();
  if (!PUBLIC_RANGES.has(range)) return `${address} is a ${range} address, not a public one`;
  for (const cidr of EXTRA_BLOCKED_CIDRS) {
    if (parsed.kind() === cidr[0].kind() && parsed.match(cidr)) return `${address} is in the reserved range ${cidr[0].toString()}/${cidr[1]}`;
  }
  return undefined;
}

/** The host of a URL as an address literal, or undefined when it is a name. */
export function literalAddressOf(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return ipaddr.isValid(host) && (host.includes(':') || /^[\d.]+$/.test(host)) ? host : undefined;
}

/** Checks what can be checked without DNS: scheme and literal addresses. */
export function targetUrlRefusal(rawUrl: string, allowPrivateTargets: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return 'is not an absolute URL';
  }
  if (allowPrivateTargets) return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : 'must be an http(s) URL';
  if (url.protocol !== 'https:') return 'must use https';
  const literal = literalAddressOf(url);
  if (literal) return addressRefusal(literal);
  if (url.hostname === 'localhost' || url.hostname.endsWith('.localhost') || url.hostname.endsWith('.internal')) {
    return `${url.hostname} is not a public host`;
  }
  return undefined;
}
