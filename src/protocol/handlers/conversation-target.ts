import type { Target } from '../../service/ports.js';

/** The conversation a request names with `with` (a user) or `groupid` (its schema checked exactly one). */
export function conversationOf(request: { with?: number | undefined; groupid?: number | undefined }): Target {
  return request.groupid !== undefined
    ? { kind: 'group', id: request.groupid }
    : { kind: 'user', id: request.with ?? 0 };
}
