import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bearerAuth } from '../../../src/admin/admin-auth.js';
import { AdminPage } from '../../../src/admin/admin-page.js';
import { MessageRate } from '../../../src/admin/message-rate.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('bearerAuth', () => {
  it('lets /api/* through only with the exact bearer token; other paths stay open', () => {
    const allows = bearerAuth('let-me-in-please');
    expect(allows('/api/kv', 'Bearer let-me-in-please')).toBe(true);
    for (const wrong of [
      undefined,
      '',
      'Bearer let-me-in-pleas',
      'Bearer let-me-in-please!',
      'bearer let-me-in-please',
      'let-me-in-please',
      `Bearer ${'x'.repeat(10_000)}`,
    ])
      expect(allows('/api/stats', wrong), String(wrong)).toBe(false);
    expect(allows('/healthz', undefined)).toBe(true);
    expect(allows('/metrics', 'Bearer wrong')).toBe(true);
  });

  it('lets everything through when no token is set', () => {
    expect(bearerAuth(undefined)('/api/kv', undefined)).toBe(true);
  });
});

describe('AdminPage', () => {
  it('serves index.html at /, /kv and /kv/, and nothing outside its fixed file list', () => {
    const page = new AdminPage(fileURLToPath(new URL('../../../web', import.meta.url)));
    const index = page.file('/');
    expect(index?.type).toBe('text/html; charset=utf-8');
    expect(page.file('/kv')).toBe(index);
    expect(page.file('/kv/')).toBe(index);
    expect(page.file('/index.html')).toBe(index);
    expect(page.file('/../package.json')).toBeUndefined();
    expect(page.file('/nope.html')).toBeUndefined();
    expect(new AdminPage(undefined).file('/')).toBeUndefined();
  });
});

describe('MessageRate', () => {
  it('reports the messages stored per second over the last 5 s window, and stops', () => {
    vi.useFakeTimers();
    let stored = 100;
    const rate = new MessageRate(() => stored);
    expect(rate.perSecond()).toBe(0);
    stored = 150;
    vi.advanceTimersByTime(5000);
    expect(rate.perSecond()).toBe(10);
    rate.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
