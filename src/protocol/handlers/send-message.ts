import type { Target } from '../../service/ports.js';
import type { ClientSession } from '../client-session.js';

/** Shared by ONE_CHAT and GROUP_CHAT: store through the service, then ACK (v2) with the server id. */
export async function sendAndAck(
  context: ClientSession,
  request: {
    msgid: number;
    reqId?: unknown;
    v?: 1 | 2 | undefined;
    msg: string;
    time?: string | undefined;
    cmid?: string | undefined;
  },
  target: Target,
): Promise<void> {
  const user = context.requireUser();
  const result = await context.services.messages.send({
    senderId: user.id,
    target,
    body: request.msg,
    clientTime: request.time,
    cmid: request.cmid,
  });
  context.ack(request, {
    mid: result.message.id,
    ts: result.message.createdAt,
    ...(result.duplicate ? { duplicate: true } : {}),
  });
}
