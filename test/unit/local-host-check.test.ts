/** The local server's Host rule (local/api-gateway.ts), for each kind of bind address. */
import { describe, expect, it } from 'vitest';
import { hostAllowed, hostnameOf, isLoopbackName } from '../../local/api-gateway.ts';

describe('hostAllowed', () => {
  it('bound to loopback (the default): loopback names only, any port', () => {
    for (const host of ['localhost', 'localhost:3000', 'LocalHost:1', 'localhost.', '127.0.0.1', '127.0.0.1:3000', '127.255.0.9:80', '[::1]', '[::1]:3000']) {
      expect(hostAllowed(host, '127.0.0.1'), host).toBe(true);
      expect(hostAllowed(host, 'localhost'), host).toBe(true);
      expect(hostAllowed(host, '::1'), host).toBe(true);
    }
    for (const host of [undefined, '', 'evil.example', 'evil.example:3000', 'localhost.evil.example', 'evil.localhost', '127.0.0.1.nip.io', '127.0.0.256', '128.0.0.1', '0.0.0.0', '[::2]', '192.168.1.5', 'localhost:3000:1', 'user@localhost', 'localhost/x', ' ']) {
      expect(hostAllowed(host, '127.0.0.1'), String(host)).toBe(false);
    }
  });

  it('bound to a wildcard address: any Host (the operator exposed it)', () => {
    for (const bound of ['0.0.0.0', '::']) {
      for (const host of ['evil.example', '192.168.1.5:3000', 'localhost', undefined]) expect(hostAllowed(host, bound)).toBe(true);
    }
  });

  it('bound to another address or name: loopback names and that one', () => {
    expect(hostAllowed('192.168.1.5:3000', '192.168.1.5')).toBe(true);
    expect(hostAllowed('localhost:3000', '192.168.1.5')).toBe(true);
    expect(hostAllowed('192.168.1.6:3000', '192.168.1.5')).toBe(false);
    expect(hostAllowed('herald.lan:3000', 'herald.lan')).toBe(true);
    expect(hostAllowed('evil.example', 'herald.lan')).toBe(false);
    expect(hostAllowed('[fd00::5]:3000', 'fd00::5')).toBe(true);
  });

  it('parses Host headers strictly', () => {
    expect(hostnameOf('Example.COM:8080')).toBe('example.com');
    expect(hostnameOf('[::1]:1')).toBe('[::1]');
    expect(hostnameOf('a b')).toBeUndefined();
    expect(hostnameOf('host:99999999')).toBeUndefined();
    expect(isLoopbackName('127.0.0.1')).toBe(true);
    expect(isLoopbackName('127.1')).toBe(false);
  });
});
