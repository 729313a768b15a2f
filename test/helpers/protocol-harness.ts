import { buildServices, createEmbeddedPorts } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { ClientSession, type SessionPolicy } from '../../src/protocol/client-session.js';
import { Dispatcher } from '../../src/protocol/dispatcher.js';
import type { ChatServices } from '../../src/service/chat-services.js';
import type { LiveSession } from '../../src/service/session-registry.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { FakeChannel } from './fake-channel.js';

/** The user's one live session on this node (fails when the user has sessions on several devices here). */
export function liveSession(services: ChatServices, userId: number): LiveSession | undefined {
  const sessions = [...services.sessions.sessionsOf(userId)];
  if (sessions.length > 1) throw new Error(`user ${userId} has ${sessions.length} sessions here`);
  return sessions[0];
}

/** No per-connection budgets: handler tests exercise the handlers, not the rate limits. */
const UNLIMITED: SessionPolicy = {
  ratePerS: 1e9,
  rateBurst: 1e9,
  loginRatePerS: 1e9,
  loginBurst: 1e9,
  typingPerS: 1e9,
  heartbeatTimeoutMs: 0,
  unauthTimeoutMs: 0,
  v1: { maxFrameBytes: 1023, paceMs: 0, ackSettleMs: 0, holdMs: 0 },
};

export interface FakeClient {
  readonly out: FakeChannel;
  readonly context: ClientSession;
  /** Sends one raw frame through the dispatcher and returns everything the server sent in reply. */
  send(frame: Record<string, unknown> | string): Promise<Record<string, unknown>[]>;
  /** Like send, returning the single reply (fails when there is not exactly one). */
  ask(frame: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** Real services on the embedded store, driven frame by frame without sockets. */
export function protocolHarness(
  env: Record<string, string> = {},
  policy: Partial<SessionPolicy> = {},
  clock: Clock = systemClock,
): {
  services: ChatServices;
  /** The ports under the services (tests may wrap a store method to watch it). */
  ports: ReturnType<typeof createEmbeddedPorts>;
  /** A client connected from `ip`. */
  client(ip?: string): FakeClient;
} {
  const config = loadConfig({ BCRYPT_COST: '4', LOG_LEVEL: 'silent', ...env });
  const logger = createLogger('silent');
  const ports = createEmbeddedPorts(config, clock);
  const services = buildServices(config, ports, logger, clock);
  const dispatcher = new Dispatcher();
  return {
    services,
    ports,
    client(ip?: string): FakeClient {
      const out = new FakeChannel(ip);
      const context = new ClientSession(out, services, { ...UNLIMITED, ...policy }, logger, dispatcher);
      const send = async (frame: Record<string, unknown> | string) => {
        await context.handle(typeof frame === 'string' ? frame : JSON.stringify(frame));
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
