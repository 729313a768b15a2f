import { afterEach, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { LegacyTraffic } from '../../scripts/lib/legacy-traffic.js';
import { startTestApp } from '../helpers/test-app.js';

// The benchmark's lean v1 load (scripts/lib/legacy-traffic.ts): it must count the reads the original
// client would have died on instead of dying, and account every message.

let app: RunningApp | undefined;
let traffic: LegacyTraffic | undefined;
afterEach(async () => {
  traffic?.close();
  traffic = undefined;
  await app?.stop();
  app = undefined;
});

async function run(paceMs: string, terminator: '\0' | '\n'): Promise<ReturnType<LegacyTraffic['report']>> {
  // A closed loop without pacing outruns the per-connection request budget (200/s): lift it here.
  app = await startTestApp({
    V1_PACE_MS: paceMs,
    V1_ACK_SETTLE_MS: '200',
    RATE_PER_S: '100000',
    RATE_BURST: '100000',
  });
  traffic = new LegacyTraffic({ host: '127.0.0.1', port: app.chatPort, clients: 4, window: 5, terminator });
  await traffic.connect();
  traffic.start();
  await new Promise((resolve) => setTimeout(resolve, 500));
  traffic.stop();
  return traffic.drain(5000);
}

describe('LegacyTraffic (the v1 benchmark load)', () => {
  it('counts merged reads without pacing or padding and keeps going: every message shown once, in order', async () => {
    // Newline-ended requests: the server does not pad, so only pacing could keep frames apart.
    const report = await run('0', '\n');
    expect(report.violations.merged).toBeGreaterThan(0);
    expect(report.violations.reads).toBeGreaterThanOrEqual(report.violations.merged);
    expect(report.sent).toBeGreaterThan(100);
    expect(report).toMatchObject({ lost: 0, duplicates: 0, reordered: 0, refused: 0 });
    expect(report.delivered).toBe(report.sent);
  });

  it('sees one frame per read, as the original does, when the server paces and pads', async () => {
    const report = await run('5', '\0');
    expect(report.sent).toBeGreaterThan(20);
    expect(report.violations).toEqual({ reads: 0, merged: 0, oversize: 0, split: 0 });
    expect(report).toMatchObject({ lost: 0, duplicates: 0, reordered: 0 });
    expect(report.delivered).toBe(report.sent);
  });
});
