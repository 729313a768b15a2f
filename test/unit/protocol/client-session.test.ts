import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { buildServices, createEmbeddedPorts } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { AppError } from '../../../src/errors.js';
import { createLogger } from '../../../src/logger.js';
import { ClientSession, type SessionPolicy } from '../../../src/protocol/client-session.js';
import { Dispatcher } from '../../../src/protocol/dispatcher.js';
import { MsgId } from '../../../src/protocol/msgids.js';
import type { ChatServices } from '../../../src/service/chat-services.js';
import { storedMessage } from '../../../src/service/ports.js';
import type { Clock } from '../../../src/util/clock.js';
import { FakeChannel } from '../../helpers/fake-channel.js';

const POLICY: SessionPolicy = {
  ratePerS: 10,
  rateBurst: 3,
  loginRatePerS: 1,
  loginBurst: 2,
  typingPerS: 3,
  heartbeatTimeoutMs: 45_000,
  unauthTimeoutMs: 300_000,
  v1: { maxFrameBytes: 1023, paceMs: 5, ackSettleMs: 0, holdMs: 0 },
};

/** A session over a recording channel, with a clock the test moves. */
function session(
  policy = POLICY,
  realTime = false,
): {
  channel: FakeChannel;
  client: ClientSession;
  clock: { t: number };
  services: ChatServices;
} {
  const clock = { t: 1_000_000 };
  // Hold tests wait on real timers, so their clock must move with real time.
  const testClock: Clock = realTime ? { now: () => Date.now() } : { now: () => clock.t };
  const config = loadConfig({ BCRYPT_COST: '4', LOG_LEVEL: 'silent' });
  const logger = createLogger('silent');
  const services = buildServices(config, createEmbeddedPorts(config, testClock), logger, testClock);
  const channel = new FakeChannel();
  return {
    channel,
    client: new ClientSession(channel, services, policy, logger, new Dispatcher()),
    clock,
    services,
  };
}

describe('ClientSession', () => {
  it('admits a burst, then answers RATE_LIMITED naming the request, then FLOODING closes', () => {
    const { channel, client } = session();
    const frame = JSON.stringify({ msgid: MsgId.PING, reqId: 'p' });
    for (let i = 0; i < 3; i++) expect(client.admit(frame)).toBe(true);
    expect(client.admit(frame)).toBe(false);
    expect(channel.take()).toEqual([
      expect.objectContaining({ msgid: MsgId.ERROR, code: 'RATE_LIMITED', re: MsgId.PING, reqId: 'p' }),
    ]);
    for (let i = 0; i < 3; i++) client.admit(frame);
    expect(channel.last()).toMatchObject({ code: 'FLOODING', reconnect: false });
    expect(channel.closeReason).toBe('FLOODING');
  });

  it('refills the request budget with time', () => {
    const { client, clock } = session();
    const frame = '{"msgid":15}';
    for (let i = 0; i < 3; i++) client.admit(frame);
    expect(client.admit(frame)).toBe(false);
    clock.t += 200;
    expect(client.admit(frame)).toBe(true);
  });

  it('sends one error and closes only for errors the catalog marks closing', () => {
    const { channel, client } = session();
    client.fail(new AppError('NOT_MEMBER'), MsgId.GROUP_CHAT, 7);
    expect(channel.closed).toBe(false);
    client.fail(new AppError('SLOW_CONSUMER'));
    expect(channel.take()).toEqual([
      {
        msgid: MsgId.ERROR,
        errno: 22,
        code: 'NOT_MEMBER',
        errmsg: expect.any(String),
        re: MsgId.GROUP_CHAT,
        reqId: 7,
      },
      { msgid: MsgId.ERROR, errno: 41, code: 'SLOW_CONSUMER', errmsg: expect.any(String), reconnect: true },
    ]);
    expect(channel.closeReason).toBe('SLOW_CONSUMER');
    client.fail(new AppError('INTERNAL'));
    expect(channel.take()).toEqual([]);
  });

  it('answers a channel fault with the catalog error of that name', () => {
    const { channel, client } = session();
    client.fault('IDLE_TIMEOUT');
    expect(channel.take()).toEqual([expect.objectContaining({ code: 'IDLE_TIMEOUT' })]);
    expect(channel.closeReason).toBe('IDLE_TIMEOUT');
  });

  it('tells the channel the time policy: a login deadline, then the v2 heartbeat, none for v1', async () => {
    const { channel, client } = session({ ...POLICY, loginBurst: 10 });
    expect(channel.deadlineMs).toBe(300_000);
    expect(channel.idleTimeoutMs).toBe(0);
    await client.handle(JSON.stringify({ msgid: MsgId.REG, name: 'a', password: 'pw' }));
    // Requests before login (a PING) leave the deadline alone.
    channel.deadlineMs = -1;
    await client.handle(JSON.stringify({ msgid: MsgId.PING }));
    expect(channel.deadlineMs).toBe(-1);
    await client.handle(JSON.stringify({ msgid: MsgId.LOGIN, v: 2, name: 'a', password: 'pw' }));
    expect(channel.deadlineMs).toBe(0);
    expect(channel.idleTimeoutMs).toBe(45_000);
    await client.handle(JSON.stringify({ msgid: MsgId.LOGIN, name: 'a', password: 'pw' }));
    expect(channel.idleTimeoutMs).toBe(0);
    await client.handle(JSON.stringify({ msgid: MsgId.LOGINOUT }));
    expect(channel.deadlineMs).toBe(300_000);
  });

  it('draining tells a v2 client when to reconnect and closes; a v1 client is only closed', async () => {
    const v2 = session();
    await v2.client.handle(JSON.stringify({ msgid: MsgId.REG, name: 'b', password: 'pw' }));
    await v2.client.handle(JSON.stringify({ msgid: MsgId.LOGIN, v: 2, name: 'b', password: 'pw' }));
    v2.channel.take();
    v2.client.shutdown(1234);
    expect(v2.channel.take()).toEqual([
      expect.objectContaining({ msgid: MsgId.SERVER_NOTICE, code: 'SERVER_DRAINING', reconnectInMs: 1234 }),
    ]);
    expect(v2.channel.closeReason).toBe('SERVER_DRAINING');
    const v1 = session();
    v1.client.shutdown(10);
    expect(v1.channel.take()).toEqual([]);
    expect(v1.channel.closeReason).toBe('SERVER_DRAINING');
  });

  it('ignores a kick meant for a session it no longer holds', async () => {
    const { channel, client } = session();
    await client.handle(JSON.stringify({ msgid: MsgId.REG, name: 'c', password: 'pw' }));
    await client.handle(JSON.stringify({ msgid: MsgId.LOGIN, v: 2, name: 'c', password: 'pw' }));
    channel.take();
    client.kick('some-earlier-session');
    expect(channel.closed).toBe(false);
    client.kick(client.sessionId);
    expect(channel.take()).toEqual([expect.objectContaining({ msgid: MsgId.KICKED, reconnect: false })]);
    expect(channel.closeReason).toBe('KICKED');
  });

  it('admits one INBOX_ACK per delivered message beyond the request budget, so a replay never floods', async () => {
    const { channel, client } = session({ ...POLICY, loginBurst: 10 });
    await client.handle(JSON.stringify({ msgid: MsgId.REG, name: 'd', password: 'pw' }));
    await client.handle(JSON.stringify({ msgid: MsgId.LOGIN, v: 2, name: 'd', password: 'pw' }));
    const draft = {
      senderId: 1,
      target: { kind: 'user', id: 2 },
      body: 'x',
      clientTime: 't',
      cmid: null,
    } as const;
    for (let seq = 1; seq <= 20; seq++)
      client.deliver({ seq, message: storedMessage(draft, seq, 'a', undefined, 0) });
    channel.take();
    const ack = (seq: number) => JSON.stringify({ msgid: MsgId.INBOX_ACK, seq });
    for (let seq = 1; seq <= 20; seq++) expect(client.admit(ack(seq))).toBe(true);
    // Credit went first: the request budget is still there for real requests.
    const ping = JSON.stringify({ msgid: MsgId.PING });
    for (let i = 0; i < 3; i++) expect(client.admit(ping)).toBe(true);
    expect(channel.take()).toEqual([]);
    // Budget and credit spent: the next is over the limit like any request.
    expect(client.admit(ack(21))).toBe(false);
    expect(channel.last()).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('holds a v1 chat message while the store is unavailable and sends it when it returns', async () => {
    const { channel, client, services } = session(
      { ...POLICY, loginBurst: 10, v1: { ...POLICY.v1, holdMs: 5000 } },
      true,
    );
    await client.handle(JSON.stringify({ msgid: MsgId.REG, name: 'e', password: 'pw' }));
    await client.handle(JSON.stringify({ msgid: MsgId.REG, name: 'f', password: 'pw' }));
    await client.handle(JSON.stringify({ msgid: MsgId.LOGIN, name: 'e', password: 'pw' }));
    channel.take();
    const real = services.messages.send.bind(services.messages);
    let failures = 2;
    services.messages.send = (request) =>
      failures-- > 0 ? Promise.reject(new AppError('UNAVAILABLE')) : real(request);
    await client.handle(JSON.stringify({ msgid: MsgId.ONE_CHAT, id: 1, toid: 2, msg: 'held', name: 'e' }));
    expect(failures).toBe(-1);
    expect(channel.take()).toEqual([]);
    expect(channel.closed).toBe(false);
    expect((await services.messages.cursor(2, 'default')).lastSeq).toBe(1);
  });

  it('closes a v1 connection with HELD_TOO_LONG when the store stays unavailable past V1_HOLD_MS', async () => {
    const { channel, client, services } = session(
      { ...POLICY, loginBurst: 10, v1: { ...POLICY.v1, holdMs: 250 } },
      true,
    );
    await client.handle(JSON.stringify({ msgid: MsgId.REG, name: 'g', password: 'pw' }));
    await client.handle(JSON.stringify({ msgid: MsgId.LOGIN, name: 'g', password: 'pw' }));
    channel.take();
    services.social.addFriend = () => Promise.reject(new AppError('UNAVAILABLE'));
    await client.handle(JSON.stringify({ msgid: MsgId.ADD_FRIEND, id: 1, friendid: 5 }));
    expect(channel.closeReason).toBe('HELD_TOO_LONG');
  });

  it('answers a v2 send that cannot be stored at once with UNAVAILABLE (its client retries)', async () => {
    const { channel, client, services } = session({ ...POLICY, loginBurst: 10 });
    await client.handle(JSON.stringify({ msgid: MsgId.REG, name: 'h', password: 'pw' }));
    await client.handle(JSON.stringify({ msgid: MsgId.LOGIN, v: 2, name: 'h', password: 'pw' }));
    channel.take();
    services.messages.send = () => Promise.reject(new AppError('UNAVAILABLE'));
    await client.handle(JSON.stringify({ msgid: MsgId.ONE_CHAT, toid: 1, msg: 'x', reqId: 3 }));
    expect(channel.take()).toEqual([expect.objectContaining({ code: 'UNAVAILABLE', reqId: 3 })]);
  });

  it("writes a v1 client's implied ack only after the request that implied it was handled", async () => {
    const policy = { ...POLICY, loginBurst: 10, v1: { ...POLICY.v1, ackSettleMs: 60_000 } };
    const { client: alice, services, clock } = session(policy);
    const bobChannel = new FakeChannel();
    const bob = new ClientSession(bobChannel, services, policy, createLogger('silent'), new Dispatcher());
    await alice.handle(JSON.stringify({ msgid: MsgId.REG, name: 'al', password: 'pw' }));
    await alice.handle(JSON.stringify({ msgid: MsgId.REG, name: 'bo', password: 'pw' }));
    await alice.handle(JSON.stringify({ msgid: MsgId.LOGIN, name: 'al', password: 'pw' }));
    await bob.handle(JSON.stringify({ msgid: MsgId.LOGIN, name: 'bo', password: 'pw' }));
    const settle = async () => {
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    await alice.handle(JSON.stringify({ msgid: MsgId.ONE_CHAT, id: 1, toid: 2, msg: 'hi', name: 'al' }));
    await settle();
    expect(bobChannel.take()).toContainEqual(expect.objectContaining({ msg: 'hi' }));
    // Two requests after the delivery confirm it; the second is a send, whose append the test holds.
    clock.t += 10;
    const ping = JSON.stringify({ msgid: MsgId.ONE_CHAT, id: 2, toid: 1, msg: 'first', name: 'bo' });
    expect(bob.admit(ping)).toBe(true);
    await bob.handle(ping);
    clock.t += 10;
    const real = services.messages.send.bind(services.messages);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    services.messages.send = async (request) => {
      await gate;
      return real(request);
    };
    const reply = JSON.stringify({ msgid: MsgId.ONE_CHAT, id: 2, toid: 1, msg: 'second', name: 'bo' });
    expect(bob.admit(reply)).toBe(true);
    const handled = bob.handle(reply);
    await settle();
    expect((await services.messages.cursor(2, 'default')).ackedSeq).toBe(0);
    release();
    await handled;
    await settle();
    expect((await services.messages.cursor(2, 'default')).ackedSeq).toBe(1);
  });
});

describe('ClientSession logging', () => {
  it("makes the connection's child logger at its first log line, carrying the address and transport", async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger('info', { destination });
    const child = vi.spyOn(logger, 'child');
    const config = loadConfig({ BCRYPT_COST: '4', LOG_LEVEL: 'silent' });
    const clock: Clock = { now: () => Date.now() };
    const services = buildServices(config, createEmbeddedPorts(config, clock), createLogger('silent'), clock);
    const failing = { handleFrame: () => Promise.reject(new Error('boom')) } as unknown as Dispatcher;
    const client = new ClientSession(new FakeChannel('198.51.100.7'), services, POLICY, logger, failing);
    // A connection that never logs costs no child logger.
    expect(child).not.toHaveBeenCalled();

    await client.handle(JSON.stringify({ msgid: MsgId.PING }));
    await client.handle(JSON.stringify({ msgid: MsgId.PING }));
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ msg: 'frame processing failed', remote: '198.51.100.7', transport: 'ws' }),
      expect.objectContaining({ msg: 'frame processing failed', remote: '198.51.100.7', transport: 'ws' }),
    ]);
  });
});
