import { LocalPresence } from '../../../src/embedded/local-presence.js';
import { presenceContract } from '../../contract/presence-contract.js';

presenceContract('local', () => {
  const presence = new LocalPresence();
  return Promise.resolve({ a: presence, b: presence });
});
