import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  defaultDeviceFile,
  fileDeviceStore,
  generateDevice,
  isValidDevice,
  memoryDeviceStore,
  resolveDevice,
} from '../../../src/client/device-id.js';
import { ParleyClient } from '../../../src/client/parley-client.js';
import { FakeServer } from './fake-server.js';

const tempFile = () => join(mkdtempSync(join(tmpdir(), 'parley-device-')), 'sub', 'device');

describe('device names', () => {
  it('are <host>-<random>, reduced to what the server accepts', () => {
    expect(generateDevice('laptop.example.com', '7f3a09bc')).toBe('laptop-7f3a09bc');
    expect(generateDevice('Ünïcode box!', 'ab')).toBe('n-code-box-ab');
    expect(generateDevice('', 'ab')).toBe('device-ab');
    expect(generateDevice('x'.repeat(200), '12345678')).toHaveLength(49);
    for (const host of ['laptop', 'über', '...', 'a b', 'x'.repeat(300)])
      expect(isValidDevice(generateDevice(host))).toBe(true);
    expect(generateDevice('h')).not.toBe(generateDevice('h'));
  });

  it('live in $XDG_CONFIG_HOME/parley/device, else ~/.config/parley/device', () => {
    expect(defaultDeviceFile({ XDG_CONFIG_HOME: '/cfg' }, '/home/a')).toBe('/cfg/parley/device');
    expect(defaultDeviceFile({}, '/home/a')).toBe('/home/a/.config/parley/device');
    // A relative XDG_CONFIG_HOME is invalid by the XDG spec and ignored.
    expect(defaultDeviceFile({ XDG_CONFIG_HOME: 'rel' }, '/home/a')).toBe('/home/a/.config/parley/device');
  });

  it('are generated once and kept in the file, so the next run is the same device', () => {
    const path = tempFile();
    const first = resolveDevice(undefined, fileDeviceStore(path));
    expect(isValidDevice(first)).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`${first}\n`);
    expect(resolveDevice(undefined, fileDeviceStore(path))).toBe(first);
  });

  it('replaces a stored name the server would refuse', () => {
    const path = tempFile();
    resolveDevice(undefined, fileDeviceStore(path));
    writeFileSync(path, 'has spaces and / slashes\n');
    const device = resolveDevice(undefined, fileDeviceStore(path));
    expect(isValidDevice(device)).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`${device}\n`);
  });

  it('agree between two clients that create the file at once: the first stored wins', () => {
    const path = tempFile();
    const store = fileDeviceStore(path);
    expect(store.save('first-1')).toBe('first-1');
    expect(store.save('second-2')).toBe('first-1');
    expect(store.load()).toBe('first-1');
  });

  it('still work when the file cannot be written (this run only)', () => {
    const notADirectory = join(mkdtempSync(join(tmpdir(), 'parley-device-')), 'file');
    writeFileSync(notADirectory, '');
    const device = resolveDevice(undefined, fileDeviceStore(join(notADirectory, 'parley', 'device')));
    expect(isValidDevice(device)).toBe(true);
  });

  it('given explicitly are used as they are, and refused when the server would refuse them', () => {
    const store = memoryDeviceStore('stored-1');
    expect(resolveDevice('phone-1', store)).toBe('phone-1');
    expect(() => resolveDevice('bad device', store)).toThrow(/device must be 1-64 characters/);
    expect(() => resolveDevice('x'.repeat(65), store)).toThrow(TypeError);
    expect(resolveDevice(undefined, store)).toBe('stored-1');
  });
});

describe('ParleyClient devices', () => {
  let server: FakeServer | undefined;
  let client: ParleyClient | undefined;
  afterEach(async () => {
    client?.close();
    await server?.close();
  });

  it('sends its device with register and login, and resumes the device the login reply named', async () => {
    server = await FakeServer.start();
    const store = memoryDeviceStore();
    client = new ParleyClient({
      host: '127.0.0.1',
      port: server.port,
      transport: 'tcp',
      deviceStore: store,
      backoffMinMs: 1,
      backoffMaxMs: 5,
    });
    expect(client.device).toBe(store.value);
    await client.connect();
    await client.register('alice', 'pw');
    server.answer(1, () => ({
      msgid: 2,
      errno: 0,
      id: 1,
      name: 'alice',
      v: 2,
      device: 'as-the-server-says',
      token: 't',
      ackedSeq: 0,
      lastSeq: 0,
    }));
    await client.login({ name: 'alice' }, 'pw');
    expect(server.frames(4)[0]).toMatchObject({ device: store.value });
    expect(server.frames(1)[0]).toMatchObject({ device: store.value, v: 2 });
    const resumed = new Promise<void>((resolve) => client!.once('resumed', () => resolve()));
    server.cut();
    await resumed;
    expect(server.frames(20)[0]).toMatchObject({ device: 'as-the-server-says', token: 't' });
  });

  it('uses the given device over a stored one', async () => {
    server = await FakeServer.start();
    client = new ParleyClient({
      host: '127.0.0.1',
      port: server.port,
      transport: 'tcp',
      device: 'phone-2',
      deviceStore: memoryDeviceStore('stored-1'),
    });
    await client.connect();
    await client.login({ id: 1 }, 'pw');
    expect(server.frames(1)[0]).toMatchObject({ device: 'phone-2' });
  });
});
