import bcrypt from 'bcrypt';
import type { PasswordHasher } from './ports.js';

/** bcrypt hashes on libuv's threadpool (async), so logins never block the event loop. */
export function createBcryptHasher(cost: number): PasswordHasher {
  return {
    hash: (password) => bcrypt.hash(password, cost),
    verify: (password, hash) => bcrypt.compare(password, hash),
  };
}
