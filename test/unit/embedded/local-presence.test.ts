import { describe, expect, it } from 'vitest';
import { LocalPresence } from '../../../src/embedded/local-presence.js';
import type { PresenceChange } from '../../../src/service/ports.js';
import { presenceContract } from '../../contract/presence-contract.js';

presenceContract('local', () => {
  const presence = new LocalPresence();
  return Promise.resolve({ a: presence, b: presence });
});

describe('LocalPresence', () => {
  it('records when the last device left from its injected clock', async () => {
    let now = 1_000;
    const presence = new LocalPresence({ now: () => now });
    const changes: PresenceChange[] = [];
    presence.onChange((change) => changes.push(change));
    await presence.attach(1, 'x', 's', { hidden: false, maxDevices: 2 });
    now = 5_000;
    await presence.detach(1, 'x', 's');
    expect(changes).toEqual([
      { userId: 1, view: { state: 'online', lastSeen: null } },
      { userId: 1, view: { state: 'offline', lastSeen: 5_000 } },
    ]);
    expect((await presence.viewsOf([1])).get(1)).toEqual({ state: 'offline', lastSeen: 5_000 });
  });
});
