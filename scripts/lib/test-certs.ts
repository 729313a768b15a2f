import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files of a private CA and what it signed (paths). */
export interface TestCerts {
  readonly dir: string;
  /** The CA certificate: what clients pass as `--ca` / `*_TLS_CA`. */
  readonly ca: string;
  readonly caKey: string;
  /** Server certificate for `localhost` and 127.0.0.1 (and any extra names), signed by the CA. */
  readonly cert: string;
  readonly key: string;
  /** A client certificate signed by the same CA (for servers that ask for one). */
  readonly clientCert: string;
  readonly clientKey: string;
}

/** ECDSA P-256: keys are made in milliseconds, and every TLS stack we use accepts them. */
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: readonly string[], cwd: string): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (result.error) throw new Error(`openssl not found (apt-get install openssl): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
}

/**
 * Makes a private CA, a server certificate (SAN: localhost, 127.0.0.1, ::1 and `names`) and a client
 * certificate with `openssl` in `dir` (default: a new temp dir). For tests and the local cluster only:
 * the keys are unencrypted and the CA's key sits beside them.
 */
export async function makeTestCerts(
  dir?: string,
  options: { readonly names?: readonly string[]; readonly caName?: string } = {},
): Promise<TestCerts> {
  const at = dir ?? (await mkdtemp(join(tmpdir(), 'parley-certs-')));
  await mkdir(at, { recursive: true });
  const certs: TestCerts = {
    dir: at,
    ca: join(at, 'ca.pem'),
    caKey: join(at, 'ca.key'),
    cert: join(at, 'server.pem'),
    key: join(at, 'server.key'),
    clientCert: join(at, 'client.pem'),
    clientKey: join(at, 'client.key'),
  };
  const caName = options.caName ?? 'Parley test CA';
  openssl(
    ['req', '-x509', ...NEW_KEY, '-keyout', certs.caKey, '-out', certs.ca, '-days', '3650'].concat([
      '-subj',
      `/CN=${caName}`,
    ]),
    at,
  );
  const names = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', ...(options.names ?? []).map(altName)];
  await writeFile(
    join(at, 'server.ext'),
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${names.join(',')}\n`,
  );
  await writeFile(
    join(at, 'client.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n',
  );
  for (const [name, cert, key, cn] of [
    ['server', certs.cert, certs.key, 'localhost'],
    ['client', certs.clientCert, certs.clientKey, 'parley-client'],
  ] as const) {
    openssl(['req', '-new', ...NEW_KEY, '-keyout', key, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], at);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        certs.ca,
        '-CAkey',
        certs.caKey,
        '-CAcreateserial',
      ].concat(['-out', cert, '-days', '825', '-extfile', `${name}.ext`]),
      at,
    );
  }
  return certs;
}

/** Reuses the certificates in `dir` when they are all there, or makes them (`npm run cluster`). */
export async function ensureTestCerts(dir: string): Promise<TestCerts & { readonly created: boolean }> {
  const files = ['ca.pem', 'server.pem', 'server.key', 'client.pem', 'client.key'];
  if (files.every((file) => existsSync(join(dir, file)))) {
    return {
      dir,
      ca: join(dir, 'ca.pem'),
      caKey: join(dir, 'ca.key'),
      cert: join(dir, 'server.pem'),
      key: join(dir, 'server.key'),
      clientCert: join(dir, 'client.pem'),
      clientKey: join(dir, 'client.key'),
      created: false,
    };
  }
  return { ...(await makeTestCerts(dir)), created: true };
}

const altName = (name: string) => (/^[\d.]+$|:/.test(name) ? `IP:${name}` : `DNS:${name}`);
