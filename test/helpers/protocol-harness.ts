import { buildServices, createEmbeddedPorts } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { ClientContext } from '../../src/protocol/client-context.js';
import { Dispatcher } from '../../src/protocol/dispatcher.js';
import type { ChatServices } from '../../src/service/chat-services.js';
import { systemClock } from '../../src/service/ports.js';
import { FakeOutbound } from './fake-outbound.js';

export interface FakeClient {
  readonly out: FakeOutbound;
  readonly context: ClientContext;
  /** Sends one raw frame through the dispatcher and returns everything the server sent in reply. */
  send(frame: Record<string, unknown> | string): Promise<Record<string, unknown>[]>;
  /** Like send, returning the single reply (fails when there is not exactly one). */
  ask(frame: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** Real services on the embedded store, driven frame by frame without sockets. */
export function protocolHarness(env: Record<string, string> = {}): {
  services: ChatServices;
  client(): FakeClient;
} {
  const config = loadConfig({ BCRYPT_COST: '4', LOG_LEVEL: 'silent', ...env });
  const logger = createLogger('silent');
  const services = buildServices(config, createEmbeddedPorts(config, systemClock), logger, systemClock);
  const dispatcher = new Dispatcher();
  let authBudget = Infinity;
  const limits = { takeRequest: () => true, takeAuthAttempt: () => authBudget-- > 0 };
  return {
    services,
    client(): FakeClient {
      const out = new FakeOutbound();
      const context = new ClientContext(out, services, logger);
      const send = async (frame: Record<string, unknown> | string) => {
        await dispatcher.handleFrame(
          context,
          limits,
          typeof frame === 'string' ? frame : JSON.stringify(frame),
        );
        // Let pushed deliveries (microtasks and store reads) land.
        await new Promise((resolve) => setImmediate(resolve));
        return out.take();
      };
      return {
        out,
        context,
        send,
        async ask(frame) {
          const replies = await send(frame);
          if (replies.length !== 1) throw new Error(`expected one reply, got ${JSON.stringify(replies)}`);
          return replies[0]!;
        },
      };
    },
  };
}
