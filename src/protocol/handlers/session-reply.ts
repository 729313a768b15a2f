import type { ChatServices } from '../../service/chat-services.js';
import type { DeviceCursor, DeviceId, UserRecord } from '../../service/ports.js';

/**
 * The fields a v2 LOGIN_ACK and RESUME_ACK share: who and which device, a fresh token for the device's
 * epoch, where its inbox stands, and the node that answered. One place, so the two replies cannot drift.
 */
export function sessionReplyFields(
  services: Pick<ChatServices, 'auth' | 'nodeId'>,
  user: UserRecord,
  device: DeviceId,
  cursor: DeviceCursor,
  position: { readonly ackedSeq: number; readonly reset: boolean },
): Record<string, unknown> {
  return {
    errno: 0,
    id: user.id,
    name: user.name,
    v: 2,
    device,
    token: services.auth.issueToken(user, device, cursor.epoch),
    ackedSeq: position.ackedSeq,
    lastSeq: cursor.lastSeq,
    reset: position.reset,
    node: services.nodeId,
  };
}
