import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { deviceRetentionMs, type Config } from './config.js';
import { StartupError } from './errors.js';
import { LocalBus } from './embedded/local-bus.js';
import { LocalPresence } from './embedded/local-presence.js';
import { createMemoryStore } from './embedded/memory-store.js';
import type { Logger } from './logger.js';
import { createMetrics, createRegistry, createTelemetry } from './metrics.js';
import { openKvStore } from './kv/open-kv-store.js';
import { PACKAGE_ROOT } from './package-info.js';
import { registerAdminRoutes, type ClusterNodeInfo } from './admin/admin-routes.js';
import { AdminServer } from './admin/admin-server.js';
import { MessageRate } from './admin/message-rate.js';
import { ChatServer } from './net/chat-server.js';
import { ClientSession, type SessionPolicy } from './protocol/client-session.js';
import { Dispatcher } from './protocol/dispatcher.js';
import { serverBusyFrame, tooManyConnectionsFrame } from './protocol/encode.js';
import { TrustedProxies } from './net/proxy-header.js';
import { MemoryAttemptLimits } from './embedded/memory-attempt-limits.js';
import type { AttemptLimits } from './service/attempt-limits.js';
import { LoginGuard } from './service/login-guard.js';
import { PasswordAdmission } from './service/password-admission.js';
import { MemoryCredentialCache } from './embedded/memory-credential-cache.js';
import type { CredentialCache } from './service/credential-cache.js';
import { AuthService } from './service/auth-service.js';
import type { ChatServices } from './service/chat-services.js';
import { MessageService } from './service/message-service.js';
import { createBcryptHasher } from './service/password-hasher.js';
import type { ChatStore, MessageBus, Presence } from './service/ports.js';
import { SessionRegistry } from './service/session-registry.js';
import { LiveStateService } from './service/live-state-service.js';
import { PresenceNotifier } from './service/presence-notifier.js';
import { SessionTokens } from './service/session-tokens.js';
import { SocialService } from './service/social-service.js';
import { adminTls, chatTls } from './tls-setup.js';
import { systemClock, type Clock } from './util/clock.js';
import { CloserStack } from './util/closer-stack.js';
import { noTelemetry, type Telemetry } from './service/telemetry.js';

/** The web admin page (static files, no build step). */
const WEB_DIR = join(PACKAGE_ROOT, 'web');

/** Time each closer gets at shutdown or after a failed start, unless it names its own. */
const CLOSER_TIMEOUT_MS = 5000;
/** The whole unwinding after a failed start (nothing is connected yet, so nothing should take long). */
const FAILED_START_UNWIND_MS = 5000;

export interface AppPorts {
  readonly store: ChatStore;
  readonly bus: MessageBus;
  readonly presence: Presence;
  readonly mode: string;
  /** Attempt limits (logins, registrations): shared through Redis in a cluster, in the process otherwise. */
  readonly attempts?: AttemptLimits;
  /** Verified-credential cache: shared through Redis in a cluster, in the process otherwise. */
  readonly credentials?: CredentialCache;
  /** Every live node of the cluster (only a shared presence store knows them). */
  readonly nodeInfos?: () => Promise<readonly ClusterNodeInfo[]>;
  /**
   * Awaited by the bus's closer: closing presence releases this node's leases and reports the users who went
   * offline, whose friends must hear it over the bus before it closes (set by `buildServices`).
   */
  readonly beforeBusClose: { settle: () => Promise<void> };
}

function noticesHolder(): AppPorts['beforeBusClose'] {
  return { settle: () => Promise.resolve() };
}

export interface RunningApp {
  readonly chatPort: number;
  readonly adminPort: number;
  readonly services: ChatServices;
  readonly chatServer: ChatServer;
  /**
   * Graceful stop: health 503, clients told to reconnect, connections closed, adapters released — the
   * closer stack unwound in reverse order of opening (the same unwinding as after a failed start).
   */
  stop(): Promise<void>;
}

/** The embedded adapters: in-memory store, in-process bus and presence. */
export function createEmbeddedPorts(config: Config, clock: Clock): AppPorts {
  return {
    store: createMemoryStore(clock, config.EMBEDDED_HISTORY_LIMIT, deviceRetentionMs(config)),
    bus: new LocalBus(),
    presence: new LocalPresence(clock),
    mode: 'single node, data kept in memory',
    beforeBusClose: noticesHolder(),
  };
}

/**
 * Picks and opens the adapters for the configuration, registering each one's closer as it opens; fails
 * fast when a dependency is unreachable (the caller unwinds what was opened).
 */
export async function createPorts(
  config: Config,
  clock: Clock,
  logger: Logger,
  closers: CloserStack,
  telemetry: Telemetry = noTelemetry,
): Promise<AppPorts> {
  if (config.REDIS_URL !== undefined && config.MYSQL_URL === undefined) {
    throw new StartupError(
      'REDIS_URL: a cluster needs a shared database too; set MYSQL_URL (or unset REDIS_URL)',
    );
  }
  if (config.MYSQL_URL === undefined) {
    const ports = createEmbeddedPorts(config, clock);
    closers.add('memory store', () => ports.store.close());
    closers.add('in-process bus', () => ports.beforeBusClose.settle().then(() => ports.bus.close()));
    closers.add('local presence', () => ports.presence.close());
    return ports;
  }
  // Loaded only when configured: the embedded mode never needs mysql2 or ioredis (~20 MB of RSS).
  const { openMysqlStore } = await import('./model/open-mysql-store.js');
  const store = await openMysqlStore(config, clock, logger);
  closers.add('MySQL store', () => store.close());
  store.observe?.(telemetry);
  if (config.REDIS_URL === undefined) {
    const bus = new LocalBus();
    const beforeBusClose = noticesHolder();
    closers.add('in-process bus', () => beforeBusClose.settle().then(() => bus.close()));
    const presence = new LocalPresence(clock);
    closers.add('local presence', () => presence.close());
    return { store, bus, presence, mode: 'single node, data in MySQL', beforeBusClose };
  }
  const { openRedis } = await import('./redis/open-redis.js');
  const { bus, presence, attempts, credentials } = await openRedis(config, logger, clock, telemetry);
  const beforeBusClose = noticesHolder();
  closers.add('Redis bus', () => beforeBusClose.settle().then(() => bus.close()));
  closers.add('Redis attempt limits', () => attempts.close());
  closers.add('Redis credential cache', () => credentials.close());
  closers.add('Redis presence', () => presence.close());
  return {
    store,
    bus,
    presence,
    mode: `cluster node ${config.NODE_ID}, data in MySQL, bus on Redis`,
    attempts,
    credentials,
    nodeInfos: () => presence.nodeInfos(),
    beforeBusClose,
  };
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
    { pageSize: config.PAGE_SIZE, maxDevices: config.MAX_DEVICES_PER_USER },
    logger,
    telemetry,
  );
  const live = new LiveStateService(ports.store, ports.bus, ports.presence, clock);
  // Friends hear of a user's presence changes (each reported once in the cluster, by one node).
  const presenceNotifier = new PresenceNotifier(
    ports.presence,
    ports.store.friends,
    ports.bus,
    logger,
    config.PRESENCE_GRACE_MS,
  );
  // Bounded: friends not told by then learn it from the friend list (a hung bus must not hold up a stop).
  ports.beforeBusClose.settle = () =>
    Promise.race([
      presenceNotifier.settled(),
      new Promise<void>((resolve) => setTimeout(resolve, config.PRESENCE_GRACE_MS + 2000).unref()),
    ]);
  return {
    auth: new AuthService(
      ports.store.users,
      createBcryptHasher(config.BCRYPT_COST),
      new SessionTokens(config.SESSION_SECRET, config.SESSION_TTL_S * 1000, clock),
      new LoginGuard(ports.attempts ?? new MemoryAttemptLimits(), {
        loginsPerIpPerMin: config.LOGIN_PER_IP_PER_MIN,
        registrationsPerIpPerHour: config.REGISTER_PER_IP_PER_HOUR,
        freeFailures: config.LOGIN_FREE_FAILURES,
        backoffMaxS: config.LOGIN_BACKOFF_MAX_S,
        accountFailuresBeforeDelay: config.ACCOUNT_FAILURES_BEFORE_DELAY,
        accountDelayMs: config.ACCOUNT_DELAY_MS,
      }),
      new PasswordAdmission({
        concurrency: config.BCRYPT_CONCURRENCY,
        queue: config.BCRYPT_QUEUE,
        perIp: config.BCRYPT_QUEUE_PER_IP,
      }),
      ports.credentials ??
        new MemoryCredentialCache(
          { ttlMs: config.AUTH_CACHE_TTL_S * 1000, max: config.AUTH_CACHE_MAX },
          clock,
        ),
      ports.store.messages,
    ),
    social: new SocialService(ports.store, ports.presence, (a, b) => live.friendsChanged(a, b)),
    messages: new MessageService(
      ports.store,
      ports.bus,
      clock,
      { maxMessageChars: config.MAX_MESSAGE_CHARS, pageSize: config.PAGE_SIZE },
      logger,
      telemetry,
      (userId) => sessions.copiesOwnSends(userId),
    ),
    sessions,
    live,
    presenceNotifier,
    clock,
    logger,
    telemetry,
    nodeId: nodeLabel(config),
    limits: { v1OfflineBatch: config.V1_OFFLINE_BATCH, pageSize: config.PAGE_SIZE },
  };
}

/** What clients are told of the node: NODE_ID when set, else an opaque label (no host name, no pid). */
function nodeLabel(config: Config): string {
  if (!config.nodeIdGenerated) return config.NODE_ID;
  return `n-${createHash('sha256').update(config.NODE_ID).digest('hex').slice(0, 12)}`;
}

/** The chat edge: `net` carries frames, one protocol `ClientSession` per connection owns their meaning. */
export function createChatServer(
  config: Config,
  services: ChatServices,
  logger: Logger,
  tls = chatTls(config),
): ChatServer {
  const dispatcher = new Dispatcher();
  const policy: SessionPolicy = {
    ratePerS: config.RATE_PER_S,
    rateBurst: config.RATE_BURST,
    loginRatePerS: config.LOGIN_RATE_PER_S,
    loginBurst: config.LOGIN_BURST,
    typingPerS: config.TYPING_PER_S,
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
      maxConnectionsPerIp: config.MAX_CONNECTIONS_PER_IP,
      perIpBusyFrame: tooManyConnectionsFrame(),
      trustedProxies: new TrustedProxies(config.TRUSTED_PROXIES),
      tls,
    },
    logger,
  );
}

/**
 * The composition root: wires adapters, services, the chat listener and the admin plane, then listens.
 * Every resource registers its closer on one stack as it opens; a failed start unwinds that stack before
 * the error propagates, and `stop()` unwinds the same stack.
 */
export async function startApp(
  config: Config,
  logger: Logger,
  clock: Clock = systemClock,
): Promise<RunningApp> {
  const closers = new CloserStack({
    timeoutMs: CLOSER_TIMEOUT_MS,
    onFailure: ({ name, error, timedOut }) =>
      logger.warn({ closer: name, err: error }, timedOut ? 'closer timed out' : 'closer failed'),
  });
  try {
    return await openApp(config, logger, clock, closers);
  } catch (error) {
    // Bounded, so a node that cannot start exits within seconds even when a closer hangs.
    await closers.close({ deadlineMs: FAILED_START_UNWIND_MS });
    throw error;
  }
}

async function openApp(
  config: Config,
  logger: Logger,
  clock: Clock,
  closers: CloserStack,
): Promise<RunningApp> {
  const registry = createRegistry();
  const telemetry = createTelemetry(registry, clock);
  // TLS files are checked before anything opens: a bad one stops start-up naming its variable.
  const tls = chatTls(config);
  const adminTlsContext = adminTls(config);
  const ports = await createPorts(config, clock, logger, closers, telemetry);
  const services = buildServices(config, ports, logger, clock, telemetry);
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
  closers.add('KV logs', () => kv.close());

  const chatServer = createChatServer(config, services, logger, tls);
  const rates = new MessageRate(() => services.messages.counts.stored);
  closers.add('message rate', () => rates.stop());
  const admin = new AdminServer(logger, {
    token: config.ADMIN_TOKEN,
    webDir: WEB_DIR,
    // The largest KV command: key + value + the JSON around them.
    maxBodyBytes: config.KV_MAX_KEY_BYTES + config.KV_MAX_VALUE_BYTES + 4096,
    fastLane: config.ADMIN_FAST_LANE === 'on',
    corsOrigins: config.ADMIN_CORS_ORIGINS,
    tls: adminTlsContext,
  });
  // Closed after the chat drain (registered before the chat listener), so /healthz answers 503 meanwhile.
  closers.add('admin server', () => admin.close());
  registerAdminRoutes(admin, {
    nodeId: config.NODE_ID,
    mode: ports.mode,
    kv: kv.store,
    metrics: createMetrics(registry, chatServer, services, ports.store, kv.store, ports.bus),
    connections: () => chatServer.stats().connections,
    sessions: () => services.sessions.size,
    messagesPerS: () => rates.perSecond(),
    nodeInfos: ports.nodeInfos,
  });

  closers.add('chat server', () => chatServer.shutdown(config.SHUTDOWN_GRACE_MS), {
    timeoutMs: config.SHUTDOWN_GRACE_MS + CLOSER_TIMEOUT_MS,
  });
  const chatPort = await listening(
    chatServer.listen(config.CHAT_HOST, config.CHAT_PORT),
    'CHAT',
    config.CHAT_HOST,
    config.CHAT_PORT,
  );
  const adminPort = await listening(
    admin.listen(config.ADMIN_HOST, config.ADMIN_PORT),
    'ADMIN',
    config.ADMIN_HOST,
    config.ADMIN_PORT,
  );
  // Runs first at shutdown: load balancers see 503 while the chat clients are drained.
  closers.add('admin draining', () => admin.setDraining());
  logger.info(
    {
      nodeId: config.NODE_ID,
      mode: ports.mode,
      chat: `${config.CHAT_HOST}:${chatPort}`,
      admin: `${config.ADMIN_HOST}:${adminPort}`,
      chatTls: tls !== undefined,
    },
    `Parley listening (${ports.mode})`,
  );
  if (config.sessionSecretGenerated) {
    logger.info(
      'SESSION_SECRET not set: session tokens are valid on this process only (set it for clusters and restarts)',
    );
  }
  return {
    chatPort,
    adminPort,
    services,
    chatServer,
    stop: async () => {
      await closers.close();
    },
  };
}

/** A listen failure as one line naming the setting to change (a busy port, an address not on this host). */
async function listening(
  listen: Promise<number>,
  prefix: 'CHAT' | 'ADMIN',
  host: string,
  port: number,
): Promise<number> {
  try {
    return await listen;
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as Error).message;
    const setting = code === 'EADDRINUSE' || code === 'EACCES' ? `${prefix}_PORT` : `${prefix}_HOST`;
    throw new StartupError(`${setting}: ${code}, cannot listen on ${host}:${port}`, { cause: error });
  }
}
