import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope } from '../../../src/redis/bus-envelope.js';
import type { BusEvent } from '../../../src/service/ports.js';

const event: BusEvent = { type: 'sync', userId: 7 };

describe('bus envelope', () => {
  it('carries the publish time when given, with sub-millisecond precision', () => {
    expect(decodeEnvelope(encodeEnvelope('n1', event, 1_700_000_000_123.25))).toEqual({
      v: 1,
      node: 'n1',
      t: 1_700_000_000_123.25,
      event,
    });
  });

  it("accepts an envelope without a publish time (a previous release's node)", () => {
    expect(decodeEnvelope(JSON.stringify({ v: 1, node: 'old', event }))).toEqual({
      v: 1,
      node: 'old',
      event,
    });
  });

  it('rejects a publish time that is not a finite, non-negative number', () => {
    for (const t of [-1, 'soon', null])
      expect(decodeEnvelope(JSON.stringify({ v: 1, node: 'n1', t, event })), String(t)).toBeUndefined();
  });
});
