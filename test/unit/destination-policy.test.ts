/**
 * Address and URL checks of the SSRF guard (the DNS-dependent part is covered end to end in
 * test/e2e/ssrf.test.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressRefusal, literalAddressOf, targetUrlRefusal } from '../../lambdas/core/destination-policy.ts';

describe('addressRefusal', () => {
  it.each([
    '127.0.0.1', '127.255.255.254', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.0.1', '100.64.0.1', '100.127.255.255',
    '169.254.169.254', '169.254.0.1', '0.0.0.0', '255.255.255.255', '224.0.0.1', '239.255.255.250', '192.0.0.170', '198.18.0.1',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd00:ec2::254', 'ff02::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:169.254.169.254',
    '::127.0.0.1', '64:ff9b::7f00:1', '2001:db8::1',
  ])('refuses %s', (address) => {
    expect(addressRefusal(address)).toBeDefined();
  });

  it.each(['93.184.216.34', '8.8.8.8', '1.1.1.1', '52.94.236.248', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:93.184.216.34'])(
    'allows public %s',
    (address) => expect(addressRefusal(address)).toBeUndefined(),
  );

  it('refuses everything that is not an address', () => {
    expect(addressRefusal('example.com')).toMatch(/not an IP address/);
  });

  it('refuses every 10/8, 127/8, 192.168/16 address (property)', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    fc.assert(
      fc.property(fc.constantFrom('10', '127'), octet, octet, octet, (a, b, c, d) => {
        expect(addressRefusal(`${a}.${b}.${c}.${d}`)).toBeDefined();
      }),
    );
    fc.assert(
      fc.property(octet, octet, (c, d) => {
        expect(addressRefusal(`192.168.${c}.${d}`)).toBeDefined();
      }),
    );
  });
});

describe('targetUrlRefusal', () => {
  it.each([
    ['http://example.com/hook', /https/],
    ['ftp://example.com/', /https/],
    ['not a url', /absolute URL/],
    ['https://localhost/hook', /not a public host/],
    ['https://metadata.google.internal/', /not a public host/],
    ['https://2130706433/', /loopback/],
    ['https://0x7f.1/', /loopback/],
    ['https://[::ffff:7f00:1]/', /loopback/],
  ])('refuses %s when private targets are not allowed', (url, reason) => {
    expect(targetUrlRefusal(url, false)).toMatch(reason);
  });

  it('allows a public https name (DNS is checked at connect time)', () => {
    expect(targetUrlRefusal('https://hooks.example.com/in', false)).toBeUndefined();
  });

  it('allows http and loopback in development, but never other schemes', () => {
    expect(targetUrlRefusal('http://127.0.0.1:3000/hook', true)).toBeUndefined();
    expect(targetUrlRefusal('file:///etc/passwd', true)).toMatch(/http/);
  });

  it('reads address literals, not names', () => {
    expect(literalAddressOf(new URL('https://[::1]:8443/'))).toBe('::1');
    expect(literalAddressOf(new URL('https://10.1.2.3/'))).toBe('10.1.2.3');
    expect(literalAddressOf(new URL('https://example.com/'))).toBeUndefined();
  });
});
