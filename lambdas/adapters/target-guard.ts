import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { addressRefusal, literalAddressOf, targetUrlRefusal, type PortRule } from '#core/destination-policy';
import { resolver } from './dns-resolver.ts';

/**
 * The deployed SSRF rules applied at connection time: the host is resolved here, every address
 * is checked, and the socket connects to the address that passed, so DNS cannot answer public
 * for the check and private for the connection (no rebinding window).
 */
export class BlockedDestinationError extends Error {
  readonly code = 'HERALD_BLOCKED';
}

export async function resolveAllowedAddresses(host: string): Promise<string[]> {
  let addresses: string[];
  try {
    addresses = await resolver.lookup(host);
  } catch (error) {
    const err = new Error(`could not resolve ${host}: ${(error as Error).message}`) as Error & { code?: string };
    err.code = (error as { code?: string }).code ?? 'ENOTFOUND';
    throw err;
  }
  if (addresses.length === 0) throw Object.assign(new Error(`${host} has no addresses`), { code: 'ENOTFOUND' });
  // Any private answer blocks the host: a name that mixes public and private addresses is suspect.
  for (const address of addresses) {
    const refusal = addressRefusal(address);
    if (refusal) throw new BlockedDestinationError(`${host} resolves to ${refusal.replace(/^\S+ /, `${address} `)}`);
  }
  return addresses;
}

/** Subscription-time check: scheme, literal addresses, then what the name resolves to. */
export async function targetRefusal(rawUrl: string, allowPrivateTargets: boolean, ports: PortRule): Promise<string | undefined> {
  const refusal = targetUrlRefusal(rawUrl, allowPrivateTargets, ports);
  if (refusal || allowPrivateTargets) return refusal;
  const url = new URL(rawUrl);
  if (literalAddressOf(url)) return undefined;
  try {
    await resolveAllowedAddresses(url.hostname);
    return undefined;
  } catch (error) {
    return error instanceof BlockedDestinationError ? error.message : `host ${url.hostname} could not be resolved`;
  }
}

/**
 * A `lookup` for net/tls connect through the resolver seam. Guarded (deployed rules), it only
 * ever yields checked addresses; unguarded (local development), any address.
 */
export function connectLookup(guarded: boolean): LookupFunction {
  return (hostname, options, callback) => lookupWith(guarded ? resolveAllowedAddresses : resolver.lookup, hostname, options, callback);
}

function lookupWith(resolve: (host: string) => Promise<string[]>, ...[hostname, options, callback]: Parameters<LookupFunction>): void {
  resolve(hostname).then(
    (addresses) => {
      const family = (a: string) => (isIP(a) === 6 ? 6 : 4);
      if ((options as { all?: boolean }).all) {
        (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, addresses.map((a) => ({ address: a, family: family(a) })));
      } else callback(null, addresses[0]!, family(addresses[0]!));
    },
    (error: Error) => callback(error as NodeJS.ErrnoException, '', 4),
  );
}
