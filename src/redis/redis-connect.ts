import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type StandaloneModule from 'ioredis/built/connectors/StandaloneConnector.js';

/**
 * Connects lazily created clients. ioredis rejects a failed first connect with a generic "Connection is
 * closed."; the reason (refused, a certificate that did not verify …) comes only as an 'error' event, so
 * the last one seen is what this rejects with.
 */
export async function connectClients(...clients: readonly Redis[]): Promise<void> {
  let reason: unknown;
  const remember = (error: unknown): void => {
    reason = error;
  };
  for (const client of clients) client.on('error', remember);
  try {
    await Promise.all(clients.map((client) => client.connect()));
  } catch (error) {
    throw reason ?? error;
  } finally {
    for (const client of clients) client.off('error', remember);
  }
}

// ioredis exports no standalone connector; its module (CommonJS, no exports map) is loaded directly.
const { default: StandaloneConnector } = createRequire(import.meta.url)(
  'ioredis/built/connectors/StandaloneConnector.js',
) as typeof StandaloneModule;

/**
 * ioredis's own connector, plus a lasting 'error' listener on every socket it opens. ioredis listens for
 * one 'error' per socket (`once`); a TLS socket whose server certificate did not verify can emit a
 * second one (the server's alert), which with no listener would be an uncaught exception that ends the
 * process — at start-up, or at run time when Redis's certificate changes under a running node. The
 * first error still reaches ioredis (and our logs) as before.
 */
export class GuardedConnector extends StandaloneConnector {
  // ioredis hands every connector its whole options object (typed `unknown` in its constructor type).
  constructor(options: unknown) {
    super(options as ConstructorParameters<typeof StandaloneConnector>[0]);
  }

  override async connect(...args: Parameters<InstanceType<typeof StandaloneConnector>['connect']>) {
    const stream = await super.connect(...args);
    stream.on('error', () => {});
    return stream;
  }
}
