import { join } from 'node:path';
import type { Config } from './config.js';
import { StartupError } from './errors.js';
import { LocalBus } from './embedded/local-bus.js';
import { LocalPresence } from './embedded/local-presence.js';
import { createMemoryStore } from './embedded/memory-store.js';
import type { Logger } from './logger.js';
import { createMetrics, createRegistry, createTelemetry } from './metrics.js';
import { handleTreeKeys, kvCommandReply } from './kv/kv-http.js';
import { openKvStore } from './kv/open-kv-store.js';
import { PACKAGE_ROOT } from './package-info.js';
import { AdminServer, sendJson } from './net/admin-server.js';
import { RedisPresence } from './redis/redis-presence.js';
import { ChatServer } from './net/chat-server.js';
import { ClientSession, type SessionPolicy } from './protocol/client-session.js';
import { Dispatcher } from './protocol/dispatcher.js';
import { serverBusyFrame } from './protocol/encode.js';
import { AuthService } from './service/auth-service.js';
import type { ChatServices } from './service/chat-services.js';
import { MessageService } from './service/message-service.js';
import { createBcryptHasher } from './service/password-hasher.js';
import type { ChatStore, MessageBus, Presence } from './service/ports.js';
import { SessionRegistry } from './service/session-registry.js';
import { SessionTokens } from './service/session-tokens.js';
import { SocialService } from './service/social-service.js';
import { noTelemetry, type Telemetry } from './service/telemetry.js';
import { openMysqlStore } from './model/open-mysql-store.js';
import { openRedis } from './redis/open-redis.js';
import { systemClock, type Clock } from './util/clock.js';

/** The web admin page (static files, no build step). */
const WEB_DIR = join(PACKAGE_ROOT, 'web');

/** Messages stored per second on this node, over the last 5 s window. */
class MessageRate {
  private last: number;
  private rate = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly services: ChatServices) {
    this.last = services.messages.counts.stored;
    this.timer = setInterval(() => {
      const now = this.services.messages.counts.stored;
      this.rate = (now - this.last) / 5;
      this.last = now;
    }, 5000);
    this.timer.unref();
  }

  perSecond(): number {
    return this.rate;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export interface AppPorts {
  readonly store: ChatStore;
  readonly bus: MessageBus;
  readonly presence: Presence;
  readonly mode: string;
}

export interface RunningApp {
  readonly chatPort: number;
  readonly adminPort: number;
  readonly services: ChatServices;
  readonly chatServer: ChatServer;
  /** Graceful stop: health 503, clients told to reconnect, connections closed, adapters released. */
  stop(): Promise<void>;
}

/** The embedded adapters: in-memory store, in-process bus and presence. */
export function createEmbeddedPorts(config: Config, clock: Clock): AppPorts {
  return {
    store: createMemoryStore(clock, config.EMBEDDED_HISTORY_LIMIT),
    bus: new LocalBus(),
    presence: new LocalPresence(),
    mode: 'single node, data kept in memory',
  };
}

/** Picks and opens the adapters for the configuration; fails fast when a dependency is unreachable. */
export async function createPorts(
  config: Config,
  clock: Clock,
  logger: Logger,
  telemetry: Telemetry = noTelemetry,
): Promise<AppPorts> {
  if (config.REDIS_URL !== undefined && config.MYSQL_URL === undefined) {
    throw new StartupError(
      'REDIS_URL: a cluster needs a shared database too; set MYSQL_URL (or unset REDIS_URL)',
    );
  }
  if (config.MYSQL_URL === undefined) return createEmbeddedPorts(config, clock);
  const store = await openMysqlStore(config, clock, logger);
  store.observe?.(telemetry);
  if (config.REDIS_URL === undefined) {
    return { store, bus: new LocalBus(), presence: new LocalPresence(), mode: 'single node, data in MySQL' };
  }
  try {
    const { bus, presence } = await openRedis(config, logger, clock, telemetry);
    return { store, bus, presence, mode: `cluster node ${config.NODE_ID}, data in MySQL, bus on Redis` };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** Builds the chat services over a set of ports (also used by handler tests). */
export function buildServices(
  config: Config,
  ports: AppPorts,
  logger: Logger,
  clock: Clock,
  telemetry: Telemetry = noTelemetry,
): ChatServices {
  const sessions = new SessionRegistry(
    ports.store.messages,
    ports.bus,
    ports.presence,
    config.PAGE_SIZE,
    logger,
    telemetry,
  );
  return {
    auth: new AuthService(
      ports.store.users,
      createBcryptHasher(config.BCRYPT_COST),
      new SessionTokens(config.SESSION_SECRET, config.SESSION_TTL_S * 1000, clock),
      clock,
    ),
    social: new SocialService(ports.store, ports.presence),
    messages: new MessageService(
      ports.store,
      ports.bus,
      clock,
      { maxMessageChars: config.MAX_MESSAGE_CHARS, pageSize: config.PAGE_SIZE },
      logger,
      telemetry,
    ),
    sessions,
    clock,
    logger,
    telemetry,
    nodeId: config.NODE_ID,
    limits: { v1OfflineBatch: config.V1_OFFLINE_BATCH, pageSize: config.PAGE_SIZE },
  };
}

/** The chat edge: `net` carries frames, one protocol `ClientSession` per connection owns their meaning. */
export function createChatServer(config: Config, services: ChatServices, logger: Logger): ChatServer {
  const dispatcher = new Dispatcher();
  const policy: SessionPolicy = {
    ratePerS: config.RATE_PER_S,
    rateBurst: config.RATE_BURST,
    loginRatePerS: config.LOGIN_RATE_PER_S,
    loginBurst: config.LOGIN_BURST,
    heartbeatTimeoutMs: config.HEARTBEAT_TIMEOUT_MS,
    unauthTimeoutMs: config.UNAUTH_TIMEOUT_MS,
    v1: {
      maxFrameBytes: config.V1_MAX_FRAME_BYTES,
      paceMs: config.V1_PACE_MS,
      ackSettleMs: config.V1_ACK_SETTLE_MS,
      holdMs: config.V1_HOLD_MS,
    },
  };
  return new ChatServer(
    (connection, connectionLogger) =>
      new ClientSession(connection, services, policy, connectionLogger, dispatcher),
    {
      maxConnections: config.MAX_CONNECTIONS,
      maxFrameBytes: config.MAX_FRAME_BYTES,
      sniffTimeoutMs: config.UNAUTH_TIMEOUT_MS,
      outboundHighWaterBytes: config.OUTBOUND_HIGH_WATER_BYTES,
      outboundMaxBytes: config.OUTBOUND_MAX_BYTES,
      slowConsumerTimeoutMs: config.SLOW_CONSUMER_TIMEOUT_MS,
      pacedQueueFrames: config.V1_PACE_QUEUE,
      busyFrame: serverBusyFrame(),
    },
    logger,
  );
}

/** The composition root: wires adapters, services, the chat listener and the admin plane, then listens. */
export async function startApp(
  config: Config,
  logger: Logger,
  clock: Clock = systemClock,
): Promise<RunningApp> {
  const registry = createRegistry();
  const telemetry = createTelemetry(registry, clock);
  const ports = await createPorts(config, clock, logger, telemetry);
  const services = buildServices(config, ports, logger, clock, telemetry);

  const chatServer = createChatServer(config, services, logger);
  const admin = new AdminServer(logger, {
    token: config.ADMIN_TOKEN,
    webDir: WEB_DIR,
    // The largest KV command: key + value + the JSON around them.
    maxBodyBytes: config.KV_MAX_KEY_BYTES + config.KV_MAX_VALUE_BYTES + 4096,
  });
  const kv = openKvStore(
    {
      arrayCapacity: config.KV_ARRAY_CAPACITY,
      hashCapacity: config.KV_HASH_CAPACITY,
      rbtreeCapacity: config.KV_RBTREE_CAPACITY,
      maxKeyBytes: config.KV_MAX_KEY_BYTES,
      maxValueBytes: config.KV_MAX_VALUE_BYTES,
    },
    config.KV_DATA_DIR,
    config.KV_FSYNC,
    logger,
  );
  admin.fastRoute('POST /api/kv', (body) => kvCommandReply(kv.store, body));
  admin.fastRoute('GET /api/stats', () => ({ status: 200, json: kv.store.statsJson() }));
  admin.route('GET /api/kv/rbtree/keys', (request, response) =>
    handleTreeKeys(kv.store, request, response, sendJson),
  );
  admin.route('GET /readyz', (_request, response) =>
    sendJson(response, admin.isDraining ? 503 : 200, {
      status: admin.isDraining ? 'draining' : 'ready',
      mode: ports.mode,
    }),
  );
  const rates = new MessageRate(services);
  admin.route('GET /api/cluster', async (_request, response) => {
    const here = {
      nodeId: config.NODE_ID,
      mode: ports.mode,
      uptimeS: Math.round(process.uptime()),
      connections: chatServer.stats().connections,
      sessions: services.sessions.size,
      messagesPerS: rates.perSecond(),
    };
    const nodes =
      ports.presence instanceof RedisPresence ? await ports.presence.nodeInfos().catch(() => []) : [];
    sendJson(response, 200, { status: 'OK', data: { node: here, nodes } });
  });
  const metrics = createMetrics(registry, chatServer, services, ports.store, kv.store, ports.bus);
  admin.route('GET /metrics', async (_request, response) => {
    const body = await metrics.metrics();
    response.writeHead(200, {
      'Content-Type': metrics.contentType,
      'Content-Length': Buffer.byteLength(body),
    });
    response.end(body);
  });

  let chatPort: number;
  let adminPort: number;
  try {
    chatPort = await chatServer.listen(config.CHAT_HOST, config.CHAT_PORT);
    adminPort = await admin.listen(config.ADMIN_HOST, config.ADMIN_PORT);
  } catch (error) {
    await chatServer.shutdown(0);
    await ports.store.close();
    throw error;
  }
  logger.info(
    {
      nodeId: config.NODE_ID,
      mode: ports.mode,
      chat: `${config.CHAT_HOST}:${chatPort}`,
      admin: `${config.ADMIN_HOST}:${adminPort}`,
    },
    `Parley listening (${ports.mode})`,
  );
  if (config.sessionSecretGenerated) {
    logger.info(
      'SESSION_SECRET not set: session tokens are valid on this process only (set it for clusters and restarts)',
    );
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      admin.setDraining();
      await chatServer.shutdown(config.SHUTDOWN_GRACE_MS);
      await Promise.allSettled([ports.bus.close(), ports.presence.close()]);
      await ports.store.close();
      await admin.close();
      rates.stop();
      kv.close();
    })();
    return stopping;
  };
  return { chatPort, adminPort, services, chatServer, stop };
}
