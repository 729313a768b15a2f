import { createHash, timingSafeEqual } from 'node:crypto';

/** Whether a request to `path` carrying this `Authorization` header may pass. */
export type AuthCheck = (path: string, authorization: string | undefined) => boolean;

const digest = (text: string): Buffer => createHash('sha256').update(text, 'latin1').digest();

/**
 * With a token, every `/api/*` path needs `Authorization: Bearer <token>`; health, metrics and the page
 * stay open. The header is compared in constant time over SHA-256 digests (equal lengths whatever the
 * header's length), so the reply time tells nothing about how much of a guess was right.
 */
export function bearerAuth(token: string | undefined): AuthCheck {
  if (!token) return () => true;
  const expected = digest(`Bearer ${token}`);
  return (path, authorization) =>
    !path.startsWith('/api/') ||
    (authorization !== undefined && timingSafeEqual(digest(authorization), expected));
}
