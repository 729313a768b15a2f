import { z } from 'zod';
import type { BusEvent } from '../service/ports.js';

/**
 * Version of the envelope on the wire between nodes; bumped on incompatible change. Optional fields may be
 * added within a version: an older node's parser strips fields it does not know, and a newer node accepts
 * their absence (so nodes of mixed releases keep talking during a rolling upgrade).
 */
export const ENVELOPE_VERSION = 1;

const id = z.number().int().positive();
const target = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('user'), id }),
  z.object({ kind: z.literal('group'), id }),
]);
const message = z.object({
  id,
  senderId: id,
  senderName: z.string(),
  target,
  groupName: z.string().optional(),
  body: z.string(),
  clientTime: z.string(),
  cmid: z.string().nullable(),
  createdAt: z.number(),
});
const view = z.object({
  state: z.enum(['online', 'offline']),
  lastSeen: z.number().nonnegative().finite().nullable(),
});
const event = z.discriminatedUnion('type', [
  z.object({ type: z.literal('deliver'), userId: id, seq: z.number().int().positive(), message }),
  z.object({
    type: z.literal('kick'),
    userId: id,
    // Absent from nodes of the release before devices: their kicks meant the one session of the user
    // (LEGACY_KICK_DEVICE in session-registry.ts).
    device: z.string().min(1).max(64).default('*legacy'),
    sessionId: z.string().min(1).max(100),
    origin: z.object({ cid: z.string().min(1).max(64), attempt: z.number().int().min(0) }).optional(),
  }),
  z.object({ type: z.literal('sync'), userId: id }),
  z.object({ type: z.literal('devices'), userId: id }),
  z.object({ type: z.literal('presence'), userId: id, subject: id, view }),
  z.object({
    type: z.literal('typing'),
    userId: id,
    from: id,
    target,
    state: z.enum(['start', 'stop']),
  }),
  z.object({
    type: z.literal('read'),
    userId: id,
    reader: id,
    target,
    upTo: z.number().int().min(0),
    device: z.string().min(1).max(64).optional(),
  }),
]);
const envelope = z.object({
  v: z.literal(ENVELOPE_VERSION),
  node: z.string().min(1).max(64),
  /** Publish time on the sender (ms since the epoch, sub-ms precision), for the bus latency histogram. */
  t: z.number().nonnegative().finite().optional(),
  event,
});

/** A decoded envelope. */
export interface Envelope {
  readonly node: string;
  readonly t?: number | undefined;
  readonly event: BusEvent;
}

/** Wraps an event with the envelope version, the sending node's id and (when given) the publish time. */
export function encodeEnvelope(nodeId: string, busEvent: BusEvent, publishedAtMs?: number): string {
  return JSON.stringify({ v: ENVELOPE_VERSION, node: nodeId, t: publishedAtMs, event: busEvent });
}

/** Parses and validates an envelope; undefined for anything malformed or of another version. */
export function decodeEnvelope(payload: string): Envelope | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const parsed = envelope.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}
