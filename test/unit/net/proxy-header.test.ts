import proxyProtocol from 'proxy-protocol-js';
import { describe, expect, it } from 'vitest';
import { readProxyHeader, TrustedProxies } from '../../../src/net/proxy-header.js';
import { addressKey } from '../../../src/util/address-key.js';

const v2 = (command: number, address: unknown) =>
  Buffer.from(
    new proxyProtocol.V2ProxyProtocol(
      command,
      proxyProtocol.TransportProtocol.STREAM,
      address as never,
    ).build(),
  );

describe('readProxyHeader', () => {
  it('reads a v1 header and leaves the rest', () => {
    const read = readProxyHeader(Buffer.from('PROXY TCP4 198.51.100.7 10.0.0.1 4000 6000\r\n{"msgid":18}'));
    expect(read).toMatchObject({ kind: 'header', peer: { ip: '198.51.100.7', port: 4000 } });
    expect(read.kind === 'header' && read.rest.toString()).toBe('{"msgid":18}');
  });

  it('reads v2 headers (IPv4 and IPv6, canonical), and LOCAL as "no client address"', () => {
    const four = new proxyProtocol.IPv4ProxyAddress(
      proxyProtocol.IPv4Address.createFrom([203, 0, 113, 9]),
      5555,
      proxyProtocol.IPv4Address.createFrom([10, 0, 0, 1]),
      6000,
    );
    expect(readProxyHeader(v2(proxyProtocol.Command.PROXY, four))).toMatchObject({
      peer: { ip: '203.0.113.9', port: 5555 },
    });
    const six = new proxyProtocol.IPv6ProxyAddress(
      proxyProtocol.IPv6Address.createFrom([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
      7,
      proxyProtocol.IPv6Address.createFrom([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
      6000,
    );
    expect(readProxyHeader(v2(proxyProtocol.Command.PROXY, six))).toMatchObject({
      peer: { ip: '2001:db8::1' },
    });
    expect(readProxyHeader(v2(proxyProtocol.Command.LOCAL, four))).toMatchObject({
      kind: 'header',
      peer: undefined,
    });
    expect(readProxyHeader(Buffer.from('PROXY UNKNOWN\r\nx'))).toMatchObject({
      kind: 'header',
      peer: undefined,
    });
  });

  it('waits for more of a header, and refuses a broken or oversized one', () => {
    expect(readProxyHeader(Buffer.from('PRO'))).toEqual({ kind: 'incomplete' });
    expect(readProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4'))).toEqual({ kind: 'incomplete' });
    expect(readProxyHeader(Buffer.from(`PROXY ${'x'.repeat(200)}`))).toMatchObject({ kind: 'invalid' });
    expect(readProxyHeader(Buffer.from('PROXY TCP4 999.1.2.3 1.2.3.4 1 2\r\n'))).toMatchObject({
      kind: 'invalid',
    });
    expect(readProxyHeader(Buffer.from('{"msgid":1}'))).toEqual({ kind: 'none' });
    expect(readProxyHeader(Buffer.from('POST / HTTP/1.1'))).toEqual({ kind: 'none' });
  });
});

describe('TrustedProxies and address keys', () => {
  it('trusts listed addresses and ranges only, IPv4-mapped included', () => {
    const trusted = new TrustedProxies(['10.0.0.0/8', '192.0.2.7', 'fd00::/8']);
    expect(['10.1.2.3', '::ffff:10.9.9.9', '192.0.2.7', 'fd12::1'].map((ip) => trusted.has(ip))).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['11.0.0.1', '192.0.2.8', '2001:db8::1'].map((ip) => trusted.has(ip))).toEqual([
      false,
      false,
      false,
    ]);
    expect(new TrustedProxies([]).has('127.0.0.1')).toBe(false);
  });

  it('counts an IPv6 client by its /64, and one address in one spelling', () => {
    expect(addressKey('2001:DB8:0:0:1:2:3:4')).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:db8::ffff')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::ffff:198.51.100.1')).toBe('198.51.100.1');
  });
});
