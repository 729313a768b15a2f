import type { Target } from '../../service/ports.js';
import { checkPrintable } from '../../service/text-rules.js';
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
  if (context.repliesTo(request)) {
    // v2 senders hear errors: text that would print as several lines is refused (v1 text is shown marked).
    checkPrintable(request.msg, 'msg');
    if (request.time !== undefined) checkPrintable(request.time, 'time');
  }
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
