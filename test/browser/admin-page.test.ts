import { mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { startTestApp } from '../helpers/test-app.js';

let app: RunningApp;
let browser: Browser;
beforeAll(async () => {
  app = await startTestApp();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('web admin page (real Chromium)', () => {
  it('runs a command on each engine, updates stats and history, shows errors, browses tree keys', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`http://127.0.0.1:${app.adminPort}/kv/`);
    await expect.poll(() => page.locator('.card').count()).toBe(3);
    const command = page.getByLabel(/Command \(e\.g\./);
    for (const [text, expected] of [
      ['SET name alice', 'OK: Set successfully'],
      ['HSET city 上海', 'OK: Set successfully'],
      ['RSET user:2 bob', 'OK: Set successfully'],
      ['RSET user:1 ann', 'OK: Set successfully'],
      ['GET name', 'OK: alice'],
      ['SET name again', 'EXIST: Key already exists'],
    ] as const) {
      await command.fill(text);
      await command.press('Enter');
      await expect.poll(() => page.locator('#reply').textContent()).toBe(expected);
    }
    await expect.poll(() => page.locator('.card[data-engine="rbtree"]').textContent()).toContain('stored: 2');
    await expect.poll(() => page.locator('.card[data-engine="hash"]').textContent()).toContain('stored: 1');
    expect(await page.locator('#history li').count()).toBe(6);
    expect(await page.locator('#history li').first().textContent()).toContain('SET name again');

    await command.fill('FLY away now');
    await command.press('Enter');
    await expect.poll(() => page.locator('#reply').textContent()).toBe('ERROR: Unknown command');
    expect(await page.locator('#reply').getAttribute('class')).toContain('err');

    await page.getByLabel('Key prefix').fill('user:');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect
      .poll(() => page.locator('#keys tbody td:first-child').allTextContents())
      .toEqual(['user:1', 'user:2']);
    await expect.poll(() => page.locator('#node').textContent()).toContain('single node');

    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/admin-page.png', fullPage: true });
    await page.close();
  });
});
