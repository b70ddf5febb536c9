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

/**
 * Ports a destination may use: by default 443 and 1024-65535, minus the well-known ports of
 * services that are not HTTP (databases, caches, brokers, remote desktops, cluster control
 * planes, and the ports browsers refuse for the same reason), so a URL cannot make Herald talk to
 * them. Operators change the list with `herald:destinationPorts` (deployed) or
 * HERALD_DESTINATION_PORTS: e.g. `443,8443` or `443,1024-65535,!5432`.
 */
export const DEFAULT_DESTINATION_PORTS = '443,1024-65535';
export const NON_HTTP_PORTS: readonly number[] = [
  1080, 1433, 1434, 1521, 1719, 1720, 1723, 2049, 2375, 2376, 2379, 2380, 3306, 3389, 3659, 4045, 4369, 5060, 5061, 5432, 5672,
  5900, 5984, 6000, 6379, 6443, 6566, 6665, 6666, 6667, 6668, 6669, 6697, 7000, 7001, 7199, 8086, 8291, 9042, 9092, 9160, 9200,
  9300, 10080, 10250, 10255, 11211, 15672, 25672, 27017, 27018, 27019, 28017, 50070, 61616,
];

export interface PortRule {
  allows(port: number): boolean;
  describe: string;
}

/** Parses `443,1024-65535,!5432`: ports and ranges allowed, `!` entries refused; NON_HTTP_PORTS are always refused. */
export function parsePortRule(spec: string = DEFAULT_DESTINATION_PORTS): PortRule {
  const allowed: [number, number][] = [];
  const refused = new Set(NON_HTTP_PORTS);
  for (const raw of spec.split(',').map((part) => part.trim()).filter(Boolean)) {
    const negated = raw.startsWith('!');
    const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(negated ? raw.slice(1) : raw);
    const low = Number(match?.[1]);
    const high = Number(match?.[2] ?? match?.[1]);
    if (!match || low < 1 || high > 65535 || low > high) throw new Error(`destination ports: '${raw}' is not a port, a range a-b, or !port`);
    if (negated) for (let port = low; port <= high; port++) refused.add(port);
    else allowed.push([low, high]);
  }
  return {
    allows: (port) => !refused.has(port) && allowed.some(([low, high]) => port >= low && port <= high),
    describe: spec,
  };
}

const DEFAULT_PORT_RULE = parsePortRule();

export function portRefusal(url: URL, rule: PortRule = DEFAULT_PORT_RULE): string | undefined {
  const port = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
  return rule.allows(port) ? undefined : `port ${port} is not allowed for destinations (allowed: ${rule.describe}, except well-known non-HTTP service ports)`;
}

/** Checks what can be checked without DNS: scheme, port and literal addresses. */
export function targetUrlRefusal(rawUrl: string, allowPrivateTargets: boolean, ports?: PortRule): string | undefined {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return 'is not an absolute URL';
  }
  if (!allowPrivateTargets && url.protocol !== 'https:') return 'must use https';
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http(s) URL';
  // Locally, plain http on its own port 80 is a development server like any other.
  const localHttp = allowPrivateTargets && url.protocol === 'http:' && (url.port === '' || url.port === '80');
  const portProblem = localHttp ? undefined : portRefusal(url, ports);
  if (portProblem || allowPrivateTargets) return portProblem;
  const literal = literalAddressOf(url);
  if (literal) return addressRefusal(literal);
  if (url.hostname === 'localhost' || url.hostname.endsWith('.localhost') || url.hostname.endsWith('.internal')) {
    return `${url.hostname} is not a public host`;
  }
  return undefined;
}
