import type { Logger } from '../logger.js';
import type { AuthService } from './auth-service.js';
import type { LiveStateService } from './live-state-service.js';
import type { PresenceNotifier } from './presence-notifier.js';
import type { MessageService } from './message-service.js';
import type { Clock } from '../util/clock.js';
import type { SessionRegistry } from './session-registry.js';
import type { SocialService } from './social-service.js';
import type { Telemetry } from './telemetry.js';

/** Everything a protocol handler may call; built once per node by the composition root (src/app.ts). */
export interface ChatServices {
  readonly auth: AuthService;
  readonly social: SocialService;
  readonly messages: MessageService;
  readonly sessions: SessionRegistry;
  /** Typing, read markers, the conversation list and the presence setting. */
  readonly live: LiveStateService;
  /** Fans presence changes out to friends (counts for metrics). */
  readonly presenceNotifier: PresenceNotifier;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Latency observations (request handling, appends, delivery). */
  readonly telemetry: Telemetry;
  /**
   * This node's label told to v2 clients at login (diagnostics, placement in tests): NODE_ID when the
   * operator set one, else an opaque hash of the default `<hostname>-<pid>` (never the host's name).
   */
  readonly nodeId: string;
  readonly limits: {
    /** Offline messages inside a v1 login ack. */
    readonly v1OfflineBatch: number;
    readonly pageSize: number;
  };
}
