import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CertificateError } from '../../../src/client/client-transport.js';
import { connectFailure, deviceOf, parseCliOptions } from '../../../src/cli/options.js';

const parse = (...argv: string[]) => parseCliOptions(argv, {});

describe('parley-client endpoint flags', () => {
  it('is plaintext TCP on 127.0.0.1:6000 unless told otherwise', () => {
    expect(parse()).toMatchObject({ host: '127.0.0.1', port: 6000, transport: 'tcp', tls: undefined });
  });

  it('--tls, --ca and --insecure turn TLS on; --ca carries the file contents', () => {
    const ca = join(mkdtempSync(join(tmpdir(), 'parley-ca-')), 'ca.pem');
    writeFileSync(ca, 'PEM');
    expect(parse('h', '8443', '--tls')).toMatchObject({ host: 'h', port: 8443, transport: 'tcp', tls: {} });
    expect(parse('h', '8443', '--ca', ca).tls).toEqual({ ca: Buffer.from('PEM') });
    expect(parse('h', '8443', '--insecure').tls).toEqual({ rejectUnauthorized: false });
    expect(parse('h', '8443', '--tls', '--ws')).toMatchObject({ transport: 'ws', tls: {} });
    expect(() => parse('h', '--ca', '/nonexistent.pem')).toThrow(
      /--ca: cannot read \/nonexistent\.pem \(ENOENT\)/,
    );
  });

  it('takes ws:// and wss:// URLs', () => {
    expect(parse('wss://chat.example.com:8443/ws')).toMatchObject({
      host: 'chat.example.com',
      port: 8443,
      transport: 'ws',
      tls: {},
    });
    expect(parse('wss://chat.example.com/ws')).toMatchObject({ port: 443, tls: {} });
    expect(parse('ws://[::1]:8000/ws')).toMatchObject({
      host: '::1',
      port: 8000,
      transport: 'ws',
      tls: undefined,
    });
    expect(() => parse('ws://h:8000/ws', '--tls')).toThrow(/plaintext; use wss:\/\//);
    expect(() => parse('wss://h:8443/chat')).toThrow(/at \/ws, not \/chat/);
    expect(() => parse('wss://h:8443/ws', '9000')).toThrow(/port inside the URL/);
  });

  it('explains a certificate that did not verify with the flag that fixes it', () => {
    const options = parse('h', '8443', '--tls');
    const message = connectFailure(options, new CertificateError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed'));
    expect(message).toMatch(/^cannot connect to h:8443: the server's TLS certificate did not verify/);
    expect(message).toMatch(/--ca FILE/);
    expect(connectFailure(options, new Error('connect ECONNREFUSED'))).toBe(
      'cannot connect to h:8443 (connect ECONNREFUSED)',
    );
  });
});

describe('parley-client device', () => {
  it('takes --device or PARLEY_DEVICE, refuses a name the server would, else keeps one in the config dir', () => {
    expect(parse('--device', 'phone-1').device).toBe('phone-1');
    expect(parseCliOptions([], { PARLEY_DEVICE: 'tablet' }).device).toBe('tablet');
    expect(parse().device).toBeUndefined();
    expect(() => parse('--device', 'my phone')).toThrow(/--device must be 1-64 characters/);
    expect(deviceOf(parse('--device', 'phone-1'))).toEqual({ device: 'phone-1' });
    const dir = mkdtempSync(join(tmpdir(), 'parley-xdg-'));
    const chosen = deviceOf(parse(), { XDG_CONFIG_HOME: dir });
    expect('deviceStore' in chosen && chosen.deviceStore.save('made-1')).toBe('made-1');
    expect(readFileSync(join(dir, 'parley', 'device'), 'utf8')).toBe('made-1\n');
  });
});
