import { lookup } from 'node:dns/promises';

/**
 * Host name resolution behind one replaceable seam: the SSRF guard asks it for a host's
 * addresses at subscription time and again for every connection. Tests swap `resolver.lookup`
 * to stage DNS answers (a host that resolves public, then private) without a DNS server.
 */
export const resolver = {
  lookup: async (host: string): Promise<string[]> => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address),
};
