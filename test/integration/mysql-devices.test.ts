import { describe, expect, inject, it } from 'vitest';
import { TOUCH_AGAIN_AFTER_MS } from '../../src/model/mysql-devices.js';
import { ManualClock } from '../contract/store-contract.js';
import { freshMysqlStore } from '../helpers/mysql-store.js';

const rootUrl = inject('mariadbUrl');

describe('MySQL devices: opening a session', () => {
  it('marks a device active on open unless it was marked within TOUCH_AGAIN_AFTER_MS', async () => {
    const clock = new ManualClock();
    const { store, db } = await freshMysqlStore(rootUrl, { clock });
    try {
      const bob = (await store.users.create('bob', 'h')).id;
      const activeAt = async () =>
        Number(
          (
            await db.query<{ active_at: number }[]>(
              'SELECT active_at FROM inbox_device WHERE user_id = ? AND device = ?',
              [bob, 'phone'],
            )
          )[0]!.active_at,
        );
      const joined = clock.now();
      await store.messages.openDevice(bob, 'phone');
      expect(await activeAt()).toBe(joined);
      // A reconnect soon after: no write.
      clock.advance(TOUCH_AGAIN_AFTER_MS - 1000);
      expect(await store.messages.openDevice(bob, 'phone')).toMatchObject({ reset: false, activeDevices: 1 });
      expect(await activeAt()).toBe(joined);
      // Later: marked again.
      clock.advance(2000);
      const later = clock.now();
      await store.messages.openDevice(bob, 'phone');
      expect(await activeAt()).toBe(later);
    } finally {
      await store.close();
      await db.close();
    }
  });
});
