import { readFile, writeFile, mkdtemp, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { createMysqlStore } from '../../src/model/mysql-store.js';
import { MysqlMessageStore } from '../../src/model/mysql-message-store.js';
import { loadMigrations, migrate, migrationStatus, splitStatements } from '../../src/model/migrator.js';
import { systemClock } from '../../src/util/clock.js';
import { storeContract } from '../contract/store-contract.js';
import { createDatabase } from '../../scripts/lib/mariadb.js';
import { freshMysqlStore, openDatabase, SQL_DIR } from '../helpers/mysql-store.js';
import { RecordingTelemetry } from '../helpers/recording-telemetry.js';
import type { AppendRequest } from '../../src/model/append-batcher.js';
import { MysqlAppendWriter } from '../../src/model/mysql-append-sql.js';
import { MysqlMessageReads } from '../../src/model/mysql-message-reads.js';
import { MysqlNameCache } from '../../src/model/mysql-name-cache.js';
import type { Database } from '../../src/model/mysql-database.js';

const rootUrl = inject('mariadbUrl');

storeContract(
  'mysql',
  async ({ clock, deviceRetentionMs }) =>
    (await freshMysqlStore(rootUrl, { clock, deviceRetentionMs })).store,
  { settle: (store) => (store.messages as MysqlMessageStore).pruneAcked() },
);

describe('MySQL store beyond the contract', () => {
  const writerOn = (db: Database) =>
    new MysqlAppendWriter(db, systemClock, new MysqlNameCache(), new MysqlMessageReads(db));
  const direct = (senderId: number, to: number, body: string, cmid: string | null = null): AppendRequest => ({
    draft: { senderId, target: { kind: 'user', id: to }, body, clientTime: 't', cmid },
    recipients: [to],
  });

  it('fails a batch with one failing row whole, and leaves its connection usable', async () => {
    const { store, url } = await freshMysqlStore(rootUrl);
    const db = openDatabase(url, 1);
    try {
      const a = (await store.users.create('a', 'h')).id;
      const b = (await store.users.create('b', 'h')).id;
      const writer = writerOn(db);
      // TEXT holds 65 535 bytes: strict mode refuses the middle row, so the whole transaction goes.
      await expect(
        writer.write([direct(a, b, 'one'), direct(a, b, 'x'.repeat(70_000)), direct(a, b, 'three')]),
      ).rejects.toMatchObject({ code: 'ER_DATA_TOO_LONG' });
      const counts = await db.query<{ messages: number; inboxRows: number; cursors: number }[]>(
        `SELECT (SELECT COUNT(*) FROM message) AS messages, (SELECT COUNT(*) FROM inbox) AS inboxRows,
                (SELECT COUNT(*) FROM inbox_cursor) AS cursors`,
      );
      expect(counts[0]).toEqual({ messages: 0, inboxRows: 0, cursors: 0 });
      // The same (only) connection is not left inside the failed transaction.
      const [result] = await writer.write([direct(a, b, 'after')]);
      expect(result!.deliveries).toEqual([{ userId: b, seq: 1 }]);
      expect(await db.query<{ trx: number }[]>('SELECT @@in_transaction AS trx')).toEqual([{ trx: 0 }]);
    } finally {
      await db.close();
      await store.close();
    }
  });

  it('answers resends inside a batch from the stored messages and writes the rest of it as one batch', async () => {
    const { store, url } = await freshMysqlStore(rootUrl);
    const db = openDatabase(url, 1);
    try {
      const a = (await store.users.create('a', 'h')).id;
      const b = (await store.users.create('b', 'h')).id;
      const writer = writerOn(db);
      const [stored] = await writer.write([direct(a, b, 'first', 'c-1')]);
      const before = Number((await db.query<{ n: number }[]>('SELECT COUNT(*) AS n FROM message'))[0]!.n);
      const results = await writer.write([
        direct(a, b, 'new 1', 'c-2'),
        direct(a, b, 'first', 'c-1'),
        direct(b, a, 'new 2', null),
        direct(a, b, 'new 3', 'c-3'),
      ]);
      expect(results.map((r) => r.duplicate)).toEqual([false, true, false, false]);
      expect(results[1]).toMatchObject({
        deliveries: [],
        message: { id: stored!.message.id, body: 'first' },
      });
      expect(results[0]!.deliveries).toEqual([{ userId: b, seq: 2 }]);
      expect(results[3]!.deliveries).toEqual([{ userId: b, seq: 3 }]);
      // The fresh three in one transaction: consecutive ids.
      expect([results[0], results[2], results[3]].map((r) => r!.message.id - results[0]!.message.id)).toEqual(
        [0, 1, 2],
      );
      expect(Number((await db.query<{ n: number }[]>('SELECT COUNT(*) AS n FROM message'))[0]!.n)).toBe(
        before + 3,
      );
      // A batch whose only failure is not a resend still fails whole.
      await expect(
        writer.write([direct(a, b, 'ok'), direct(a, b, 'x'.repeat(70_000), 'c-9')]),
      ).rejects.toMatchObject({ code: 'ER_DATA_TOO_LONG' });
    } finally {
      await db.close();
      await store.close();
    }
  });

  it('never deadlocks concurrent batches to overlapping recipients on two pools', async () => {
    const { store, url } = await freshMysqlStore(rootUrl);
    const pools = [openDatabase(url, 2), openDatabase(url, 2)];
    try {
      const users: number[] = [];
      for (let i = 0; i < 12; i++) users.push((await store.users.create(`u${i}`, 'h')).id);
      const deadlocks = async () =>
        Number(
          (await pools[0]!.query<{ Value: string }[]>("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'"))[0]
            ?.Value ?? 0,
        );
      const before = await deadlocks();
      // Each batch names the recipients in the opposite order of the other pool's batches.
      await Promise.all(
        pools.map(async (db, p) => {
          const writer = writerOn(db);
          for (let round = 0; round < 15; round++) {
            const order = p === 0 ? users : [...users].reverse();
            const batch = order.map((to, k) =>
              direct(users[(k + round) % users.length]!, to, `${p}/${round}`),
            );
            await Promise.all([writer.write(batch), writer.write(batch.slice(3))]);
          }
        }),
      );
      // Every inbox gap-free, every counter right.
      for (const user of users) {
        const inbox = await store.messages.readInbox(user, 0, 1000);
        expect(inbox.map((e) => e.seq)).toEqual(Array.from({ length: inbox.length }, (_, i) => i + 1));
        expect((await store.messages.cursor(user, 'd')).lastSeq).toBe(inbox.length);
      }
      // Other test files share this server, so only a rise in our window would count; none is expected.
      expect(await deadlocks()).toBe(before);
    } finally {
      await Promise.all(pools.map((db) => db.close()));
      await store.close();
    }
  });

  it('falls back to ids from message_id_seq where AUTO_INCREMENT ids need not be consecutive, without colliding', async () => {
    const { store, url } = await freshMysqlStore(rootUrl);
    // A session whose auto_increment_increment is 2 (as under Galera) gets the sequence fallback.
    const stepped = openDatabase(url, 1);
    const plain = openDatabase(url, 1);
    try {
      const a = (await store.users.create('a', 'h')).id;
      const b = (await store.users.create('b', 'h')).id;
      await stepped.query('SET SESSION auto_increment_increment = 2');
      // The source is chosen when a writer starts (and again after a lost connection): the server's
      // settings are global, so all nodes switch together, on a restart. Here: fast, then a node started
      // under the other settings, then fast again after "the restart back".
      const writers = [writerOn(plain), writerOn(stepped), writerOn(plain)];
      expect(await writers[0]!.source()).toBe('auto-increment');
      const ids: number[] = [];
      const seqs: number[] = [];
      const write = async (writer: MysqlAppendWriter) => {
        for (const result of await writer.write([direct(a, b, 'm'), direct(b, a, 'n'), direct(a, b, 'o')])) {
          ids.push(result.message.id);
          seqs.push(...result.deliveries.filter((d) => d.userId === b).map((d) => d.seq));
        }
      };
      await write(writers[0]!);
      expect(await writers[1]!.source()).toBe('sequence');
      await write(writers[1]!);
      await write(writers[1]!);
      expect(await writers[2]!.source()).toBe('auto-increment');
      await write(writers[2]!);
      // Consecutive within a batch, increasing across the switches, never reused.
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
      expect(new Set(ids).size).toBe(12);
      expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      const inbox = await store.messages.readInbox(b, 0, 100);
      expect(inbox.map((e) => e.message.id)).toEqual(ids.filter((_, i) => i % 3 !== 1));
    } finally {
      await stepped.close();
      await plain.close();
      await store.close();
    }
  });

  it('lets a node of the previous release (CALL parley_append_batch) append beside new ones without id collisions', async () => {
    const { store, url } = await freshMysqlStore(rootUrl);
    const old = openDatabase(url, 2);
    const db = openDatabase(url, 2);
    try {
      const a = (await store.users.create('a', 'h')).id;
      const b = (await store.users.create('b', 'h')).id;
      const writer = writerOn(db);
      const oldBatch = JSON.stringify(
        Array.from({ length: 5 }, (_, k) => ({
          s: a,
          u: b,
          c: `u:${a}:${b}`,
          b: `old ${k}`,
          t: 't',
          r: [b],
        })),
      );
      const rounds = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const sets = await old.execute<[{ first_id: number }][]>('CALL parley_append_batch(?, ?)', [
            oldBatch,
            i,
          ]);
          const fresh = await writer.write([direct(a, b, `new ${i}`), direct(a, b, `new ${i}`)]);
          return { oldFirst: Number(sets[0]![0].first_id), fresh: fresh.map((r) => r.message.id) };
        }),
      );
      const inbox = await store.messages.readInbox(b, 0, 1000);
      expect(inbox.map((e) => e.seq)).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));
      const stored = new Set(inbox.map((e) => e.message.id));
      expect(stored.size).toBe(70);
      for (const { oldFirst, fresh } of rounds) {
        for (let k = 0; k < 5; k++) expect(stored.has(oldFirst + k)).toBe(true);
        for (const id of fresh) expect(stored.has(id)).toBe(true);
      }
    } finally {
      await old.close();
      await db.close();
      await store.close();
    }
  });

  it('allocates gap-free sequences under concurrent senders on two "nodes" (separate pools)', async () => {
    const { store, url } = await freshMysqlStore(rootUrl);
    const other = createMysqlStore(openDatabase(url, 8), systemClock);
    try {
      const recipients = await Promise.all(
        Array.from({ length: 6 }, (_, i) => store.users.create(`r${i}`, 'h')),
      );
      const senders = await Promise.all(
        Array.from({ length: 4 }, (_, i) => store.users.create(`s${i}`, 'h')),
      );
      const group = await store.groups.create(senders[0]!.id, 'busy', '');
      const ids = recipients.map((r) => r.id);
      // 4 senders × 25 messages, alternating nodes, each a fan-out to all 6 recipients.
      await Promise.all(
        senders.map(async (sender, s) => {
          for (let i = 0; i < 25; i++) {
            const node = (s + i) % 2 ? store : other;
            await node.messages.append(
              {
                senderId: sender.id,
                target: { kind: 'group', id: group.id },
                body: `${s}/${i}`,
                clientTime: 't',
                cmid: null,
              },
              ids,
            );
          }
        }),
      );
      for (const id of ids) {
        const inbox = await store.messages.readInbox(id, 0, 1000);
        expect(inbox.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
        // Per sender, messages appear in the order they were sent.
        for (let s = 0; s < 4; s++) {
          const mine = inbox
            .filter((e) => e.message.senderId === senders[s]!.id)
            .map((e) => Number(e.message.body.split('/')[1]));
          expect(mine).toEqual([...mine].sort((a, b) => a - b));
        }
      }
    } finally {
      await store.close();
      await other.close();
    }
  });

  it('fans a message out to a 50-member group in one append and keeps idempotency under concurrent resends', async () => {
    const { store } = await freshMysqlStore(rootUrl);
    try {
      const members = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.users.create(`m${i}`, 'h')),
      );
      const group = await store.groups.create(members[0]!.id, 'fifty', '');
      await Promise.all(members.slice(1).map((m) => store.groups.addMember(group.id, m.id)));
      const draft = {
        senderId: members[0]!.id,
        target: { kind: 'group' as const, id: group.id },
        body: 'hi all',
        clientTime: 't',
        cmid: 'once',
      };
      const recipients = members.slice(1).map((m) => m.id);
      const results = await Promise.all(
        Array.from({ length: 5 }, () => store.messages.append(draft, recipients)),
      );
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      expect(new Set(results.map((r) => r.message.id)).size).toBe(1);
      expect(results.find((r) => !r.duplicate)!.deliveries).toHaveLength(49);
      for (const id of recipients.slice(0, 5))
        expect(await store.messages.cursor(id, 'phone')).toEqual({ ackedSeq: 0, lastSeq: 1 });
    } finally {
      await store.close();
    }
  });

  it('writes a batch in one go and isolates the append that fails in it, leaving nothing of it behind', async () => {
    const { store, url } = await freshMysqlStore(rootUrl);
    const db = openDatabase(url, 1);
    try {
      const a = await store.users.create('a', 'h');
      const b = await store.users.create('b', 'h');
      const draft = (body: string, cmid: string | null, senderId = a.id) => ({
        senderId,
        target: { kind: 'user' as const, id: b.id },
        body,
        clientTime: 't',
        cmid,
      });
      const first = await store.messages.append(draft('stored before', 'c1'), [b.id]);
      // One tick, one batch: a resend of c1, an unknown sender, and two good appends around them.
      const outcomes = await Promise.allSettled([
        store.messages.append(draft('one', null), [b.id]),
        store.messages.append(draft('resent', 'c1'), [b.id]),
        store.messages.append(draft('ghost', null, 999_999), [b.id]),
        store.messages.append(draft('two', 'c2'), [b.id]),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      const [one, resent, ghost, two] = outcomes;
      expect(resent).toMatchObject({ value: { duplicate: true, message: { id: first.message.id } } });
      expect(ghost).toMatchObject({ reason: { code: 'USER_NOT_FOUND' } });
      expect(one).toMatchObject({ value: { duplicate: false, deliveries: [{ userId: b.id, seq: 2 }] } });
      expect(two).toMatchObject({ value: { duplicate: false, deliveries: [{ userId: b.id, seq: 3 }] } });
      const inbox = await store.messages.readInbox(b.id, 0, 10);
      expect(inbox.map((e) => [e.seq, e.message.body])).toEqual([
        [1, 'stored before'],
        [2, 'one'],
        [3, 'two'],
      ]);
      // The failed attempts rolled back whole: no counter bump, no stray message or inbox row.
      expect(await store.messages.cursor(b.id, 'phone')).toEqual({ ackedSeq: 0, lastSeq: 3 });
      const counts = await db.query<{ messages: number; inboxRows: number }[]>(
        'SELECT (SELECT COUNT(*) FROM message) AS messages, (SELECT COUNT(*) FROM inbox) AS inboxRows',
      );
      expect(counts[0]).toEqual({ messages: 3, inboxRows: 3 });
    } finally {
      await db.close();
      await store.close();
    }
  });

  it('splits queued appends into batches by count, inbox rows and body size, in order', async () => {
    const { store, url } = await freshMysqlStore(rootUrl);
    const db = openDatabase(url, 2);
    // The store reads the clock once per batch, so the messages of one batch share their `ts`.
    let tick = 0;
    const messages = new MysqlMessageStore(
      db,
      { now: () => ++tick },
      { maxInFlight: 1, maxBatch: 3, maxRows: 4, maxBodyChars: 10 },
    );
    try {
      const a = await store.users.create('a', 'h');
      const b = await store.users.create('b', 'h');
      const c = await store.users.create('c', 'h');
      const send = (body: string, to: number[]) =>
        messages.append(
          { senderId: a.id, target: { kind: 'user', id: to[0]! }, body, clientTime: 't', cmid: null },
          to,
        );
      const results = await Promise.all([
        send('x', [b.id]), // starts at once, alone; the rest queue behind it
        ...['a', 'b', 'c', 'd'].map((body) => send(body, [b.id])), // 3 per batch at most
        send('eeeeee', [b.id]),
        send('ffff', [b.id]), // 6 + 4 characters: a third append of text would pass 10
        send('g', [b.id]),
        send('hh', [b.id, c.id]),
        send('ii', [c.id, b.id]), // 1 + 1 + 2 + 2 rows: passes 4
        send('j', [b.id]),
      ]);
      const batches = new Map<number, string[]>();
      for (const { message } of results)
        batches.set(message.createdAt, [...(batches.get(message.createdAt) ?? []), message.body]);
      expect([...batches.values()]).toEqual([
        ['x'],
        ['a', 'b', 'c'],
        ['d', 'eeeeee'],
        ['ffff', 'g', 'hh'],
        ['ii', 'j'],
      ]);
      const inbox = await messages.readInbox(b.id, 0, 100);
      expect(inbox.map((e) => [e.seq, e.message.body])).toEqual(
        ['x', 'a', 'b', 'c', 'd', 'eeeeee', 'ffff', 'g', 'hh', 'ii', 'j'].map((body, i) => [i + 1, body]),
      );
      const ids = results.map((r) => r.message.id);
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
    } finally {
      await messages.stop();
      await db.close();
      await store.close();
    }
  });

  it('bounds the append queue: a full queue makes a send wait, then fail with UNAVAILABLE, writing nothing', async () => {
    const { store, url } = await freshMysqlStore(rootUrl);
    const db = openDatabase(url, 1);
    const messages = new MysqlMessageStore(db, systemClock, {
      maxInFlight: 1,
      maxQueued: 1,
      queueWaitMs: 50,
    });
    let release = () => {};
    try {
      const a = await store.users.create('a', 'h');
      const b = await store.users.create('b', 'h');
      const send = (body: string) =>
        messages.append(
          { senderId: a.id, target: { kind: 'user', id: b.id }, body, clientTime: 't', cmid: null },
          [b.id],
        );
      // Hold the pool's only connection: the first batch cannot commit until it is released.
      let held = () => {};
      const holding = db.withConnection(
        () =>
          new Promise<void>((resolve) => {
            release = resolve;
            held();
          }),
      );
      await new Promise<void>((resolve) => (held = resolve));
      const first = send('first'); // in flight, waiting for the connection
      const queued = send('queued'); // fills the queue (1)
      const waiting = send('waiting'); // waits for room…
      await expect(send('refused')).rejects.toMatchObject({ code: 'UNAVAILABLE' }); // …as many as may
      await expect(waiting).rejects.toMatchObject({ code: 'UNAVAILABLE' }); // …until queueWaitMs passed
      release();
      await holding;
      expect((await Promise.all([first, queued])).map((r) => r.deliveries)).toEqual([
        [{ userId: b.id, seq: 1 }],
        [{ userId: b.id, seq: 2 }],
      ]);
      const inbox = await messages.readInbox(b.id, 0, 10);
      expect(inbox.map((e) => e.message.body)).toEqual(['first', 'queued']);
    } finally {
      release();
      await messages.stop();
      await db.close();
      await store.close();
    }
  });

  it('reports every append batch it writes to telemetry: its messages and its time', async () => {
    const { store } = await freshMysqlStore(rootUrl);
    const telemetry = new RecordingTelemetry();
    store.observe!(telemetry);
    const [sender, recipient] = await Promise.all([
      store.users.create('s', 'h'),
      store.users.create('r', 'h'),
    ]);
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        store.messages.append(
          {
            senderId: sender.id,
            target: { kind: 'user', id: recipient.id },
            body: `m${i}`,
            clientTime: 't',
            cmid: null,
          },
          [recipient.id],
        ),
      ),
    );
    expect(telemetry.batches.reduce((sum, batch) => sum + batch.messages, 0)).toBe(5);
    for (const batch of telemetry.batches) expect(batch.seconds).toBeGreaterThan(0);
    await store.close();
  });

  it('stores text that broke the ancestor: quotes, long and non-Latin messages, emoji names', async () => {
    const { store } = await freshMysqlStore(rootUrl);
    try {
      const a = await store.users.create("O'Brien 🎉", 'h');
      const b = await store.users.create('李四', 'h');
      const body = `'; DROP TABLE user; -- ${'长'.repeat(3000)} 🎉`;
      await store.messages.append(
        { senderId: a.id, target: { kind: 'user', id: b.id }, body, clientTime: 't', cmid: null },
        [b.id],
      );
      const [entry] = await store.messages.readInbox(b.id, 0, 1);
      expect(entry!.message.body).toBe(body);
      expect(entry!.message.senderName).toBe("O'Brien 🎉");
      expect((await store.users.findByName('李四'))?.id).toBe(b.id);
    } finally {
      await store.close();
    }
  });

  it('acks, device joins and prunes never deadlock with appends to the same inboxes on two "nodes"', async () => {
    // Appends lock cursor rows in user id order; acks read them (and write device rows) in that order, a
    // joining device locks its cursor row before its device row, the pruner raises floors in user id
    // order. If any two took them in different orders, InnoDB would pick deadlock victims under this load
    // within moments (and fail the ack or the open).
    const { store, url } = await freshMysqlStore(rootUrl);
    const other = createMysqlStore(openDatabase(url, 8), systemClock);
    const nodes = [store, other];
    try {
      const users: { id: number }[] = [];
      for (let i = 0; i < 40; i++) users.push(await store.users.create(`u${i}`, 'h'));
      for (const user of users) {
        await store.messages.openDevice(user.id, 'a');
        await other.messages.openDevice(user.id, 'b');
      }
      const failures: unknown[] = [];
      let acks = 0;
      await Promise.all(
        Array.from({ length: 120 }, async (_, worker) => {
          const node = nodes[worker % 2]!;
          for (let i = 0; i < 12; i++) {
            const from = users[worker % users.length]!.id;
            const to = users[(worker * 7 + i + 1) % users.length]!.id;
            const result = await node.messages.append(
              { senderId: from, target: { kind: 'user', id: to }, body: 'x', clientTime: 't', cmid: null },
              [to],
            );
            // Not awaited, as a session's acks are not: they pile up and flush together.
            for (const delivery of result.deliveries)
              void node.messages.ack(delivery.userId, worker % 2 ? 'a' : 'b', delivery.seq).then(
                () => acks++,
                (error: unknown) => failures.push(error),
              );
            // Now and then a device joins (a transaction on the cursor row) and a node prunes.
            if (i % 4 === worker % 4)
              await node.messages
                .openDevice(to, `w${worker}-${i}`)
                .catch((error: unknown) => failures.push(error));
            if (i % 6 === 0) void (node.messages as MysqlMessageStore).pruneAcked();
          }
        }),
      );
      await expect.poll(() => acks + failures.length, { timeout: 20_000 }).toBe(120 * 12);
      expect(failures).toEqual([]);
    } finally {
      await other.close();
      await store.close();
    }
  });

  it('never prunes a row some device still needs while devices join, ack and prune on two nodes', async () => {
    const { store, url, db } = await freshMysqlStore(rootUrl);
    const other = createMysqlStore(openDatabase(url, 8), systemClock);
    const nodes = [store, other];
    try {
      const sender = await store.users.create('sender', 'h');
      const users: { id: number }[] = [];
      for (let i = 0; i < 8; i++) users.push(await store.users.create(`r${i}`, 'h'));
      for (const user of users) await store.messages.openDevice(user.id, 'first');
      const joined = new Map<number, string[]>(users.map((user) => [user.id, ['first']]));
      await Promise.all(
        Array.from({ length: 16 }, async (_, worker) => {
          const node = nodes[worker % 2]!;
          const user = users[worker % users.length]!.id;
          for (let round = 0; round < 15; round++) {
            const result = await node.messages.append(
              {
                senderId: sender.id,
                target: { kind: 'user', id: user },
                body: 'x',
                clientTime: 't',
                cmid: null,
              },
              [user],
            );
            const devices = joined.get(user)!;
            // Every device acks everything so far; the floor rises and rows go as fast as they can.
            await Promise.all(
              devices.map((device) => node.messages.ack(user, device, result.deliveries[0]!.seq)),
            );
            const prune = (node.messages as MysqlMessageStore).pruneAcked();
            if (round % 3 === worker % 3) {
              const device = `j${worker}-${round}`;
              devices.push(device);
              const cursor = await node.messages.openDevice(user, device);
              // What the device is owed from its starting position is all there, without a gap.
              const owed = await node.messages.readInbox(user, cursor.ackedSeq, 1000);
              // (Later appends may have come in meanwhile: only up to the reply's lastSeq.)
              expect(owed.map((e) => e.seq).filter((seq) => seq <= cursor.lastSeq)).toEqual(
                Array.from({ length: cursor.lastSeq - cursor.ackedSeq }, (_, k) => cursor.ackedSeq + 1 + k),
              );
            }
            await prune;
          }
        }),
      );
      // Every device's position is at or above its user's floor, and the rows after it are all kept.
      const below = await db.query<{ n: number }[]>(
        'SELECT COUNT(*) AS n FROM inbox_device d JOIN inbox_cursor c ON c.user_id = d.user_id WHERE d.acked_seq < c.acked_seq',
      );
      expect(Number(below[0]!.n)).toBe(0);
      for (const user of users) {
        for (const device of joined.get(user.id)!) {
          const cursor = await store.messages.cursor(user.id, device);
          const owed = await store.messages.readInbox(user.id, cursor.ackedSeq, 1000);
          expect(owed.length).toBe(cursor.lastSeq - cursor.ackedSeq);
        }
      }
    } finally {
      await other.close();
      await store.close();
    }
  });

  it('writes the acks of many devices in one flush and prunes each user to its floor in one round', async () => {
    const { store, db } = await freshMysqlStore(rootUrl);
    const messages = store.messages as MysqlMessageStore;
    try {
      const sender = await store.users.create('sender', 'h');
      const users: { id: number }[] = [];
      for (let i = 0; i < 6; i++) users.push(await store.users.create(`r${i}`, 'h'));
      for (const user of users) {
        await messages.openDevice(user.id, 'laptop');
        await messages.openDevice(user.id, 'phone');
      }
      // User i gets i + 2 messages; the laptop acks i + 1 of them (the last user's claims more than it
      // has), the phone one fewer.
      for (const [i, user] of users.entries())
        for (let n = 0; n < i + 2; n++)
          await messages.append(
            {
              senderId: sender.id,
              target: { kind: 'user', id: user.id },
              body: `m${n}`,
              clientTime: 't',
              cmid: null,
            },
            [user.id],
          );
      await Promise.all(
        users.flatMap((user, i) => [
          messages.ack(user.id, 'laptop', i === 5 ? 99 : i + 1),
          messages.ack(user.id, 'phone', i),
        ]),
      );
      await messages.pruneAcked();
      for (const [i, user] of users.entries()) {
        const laptop = i === 5 ? i + 2 : i + 1;
        expect(await messages.cursor(user.id, 'laptop')).toEqual({ ackedSeq: laptop, lastSeq: i + 2 });
        expect(await messages.cursor(user.id, 'phone')).toEqual({ ackedSeq: i, lastSeq: i + 2 });
        const rows = await db.query<{ seq: number }[]>(
          'SELECT seq FROM inbox WHERE user_id = ? ORDER BY seq',
          [user.id],
        );
        // Everything below the floor (the phone's position) is gone; the floor row and the rest stay.
        const floor = Math.max(i, 1);
        expect(rows.map((row) => Number(row.seq))).toEqual(
          Array.from({ length: i + 2 - floor + 1 }, (_, k) => floor + k),
        );
      }
    } finally {
      await store.close();
    }
  });

  it('prunes below the stored floor, never past the last stored sequence', async () => {
    const { store, db } = await freshMysqlStore(rootUrl);
    const messages = store.messages as MysqlMessageStore;
    const rowsOf = async (userId: number) =>
      (
        await db.query<{ seq: number }[]>('SELECT seq FROM inbox WHERE user_id = ? ORDER BY seq', [userId])
      ).map((row) => Number(row.seq));
    try {
      const a = await store.users.create('a', 'h');
      const b = await store.users.create('b', 'h');
      const c = await store.users.create('c', 'h');
      await messages.openDevice(b.id, 'laptop');
      await messages.openDevice(c.id, 'laptop');
      const send = (to: number, body: string) =>
        messages.append(
          { senderId: a.id, target: { kind: 'user', id: to }, body, clientTime: 't', cmid: null },
          [to],
        );
      for (let i = 1; i <= 5; i++) await send(b.id, `b${i}`);
      await send(c.id, 'c1');

      await messages.ack(b.id, 'laptop', 3);
      await messages.pruneAcked();
      expect(await rowsOf(b.id)).toEqual([3, 4, 5]); // the floor row itself stays (see pruneAcked)
      expect((await messages.readInbox(b.id, 3, 10)).map((e) => e.message.body)).toEqual(['b4', 'b5']);
      expect(await rowsOf(c.id)).toEqual([1]); // not acked: untouched

      // A client claiming more than was stored moves the cursor only to the last sequence, so a message
      // stored after the claim is still owed and kept.
      await messages.ack(b.id, 'laptop', 100);
      await send(b.id, 'b6');
      await messages.pruneAcked();
      expect(await rowsOf(b.id)).toEqual([5, 6]);
      expect(await messages.cursor(b.id, 'laptop')).toEqual({ ackedSeq: 5, lastSeq: 6 });
      expect((await messages.readInbox(b.id, 5, 10)).map((e) => e.message.body)).toEqual(['b6']);
      // History comes from the message table, so pruned inbox rows do not shorten it.
      expect(
        await store.messages.history({
          userId: b.id,
          target: { kind: 'user', id: a.id },
          limit: 10,
          beforeId: undefined,
        }),
      ).toHaveLength(6);
    } finally {
      await store.close();
    }
  });

  it('lists the conversations of a user with a thousand friends in a few queries', async () => {
    const { store, db } = await freshMysqlStore(rootUrl);
    try {
      const me = await store.users.create('me', 'h');
      await db.query(
        `INSERT INTO user (name, name_key, password) SELECT CONCAT('f', seq), CONCAT('f', seq), 'h' FROM seq_1_to_1000`,
      );
      await db.query(
        `INSERT INTO friend (userid, friendid) SELECT ?, id FROM user WHERE name LIKE 'f%'
         UNION ALL SELECT id, ? FROM user WHERE name LIKE 'f%'`,
        [me.id, me.id],
      );
      const friends = (await store.friends.list(me.id)).map((f) => f.id);
      expect(friends).toHaveLength(1000);
      // Every tenth friend wrote; the newest first.
      const ids: number[] = [];
      for (let i = 0; i < friends.length; i += 10) {
        const from = friends[i]!;
        ids.push(
          (
            await store.messages.append(
              {
                senderId: from,
                target: { kind: 'user', id: me.id },
                body: `m${i}`,
                clientTime: 't',
                cmid: null,
              },
              [me.id],
            )
          ).message.id,
        );
      }
      const started = performance.now();
      const page = await store.reads.conversations(me.id, undefined, 20);
      const elapsed = performance.now() - started;
      expect(page.items.map((c) => c.last.id)).toEqual([...ids].reverse().slice(0, 20));
      expect(page.items.every((c) => c.unread === 1)).toBe(true);
      expect(page.more).toBe(true);
      // Generous: a plan that scanned every conversation would take far longer than this on 1000 friends.
      expect(elapsed).toBeLessThan(2000);
    } finally {
      await store.close();
    }
  });
});

describe('migrations', () => {
  it('applies once, records checksums, and lets concurrent runners start together', async () => {
    const url = await createDatabase(rootUrl);
    const dbs = [openDatabase(url), openDatabase(url), openDatabase(url)];
    try {
      const migrations = await loadMigrations(SQL_DIR);
      const applied = await Promise.all(dbs.map((db) => migrate(db, migrations)));
      expect(applied.map((done) => done.length).sort()).toEqual([0, 0, migrations.length]);
      expect(await migrationStatus(dbs[0]!, migrations)).toEqual({
        applied: migrations.map((m) => m.version),
        pending: [],
      });
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  });

  it('migrates a deployment from before devices: each acked cursor becomes the floor, nothing owed is lost', async () => {
    const url = await createDatabase(rootUrl);
    const db = openDatabase(url);
    const clock = { now: () => Date.UTC(2026, 0, 1) };
    try {
      const migrations = await loadMigrations(SQL_DIR);
      await migrate(
        db,
        migrations.filter((m) => m.version < 5),
      );
      // The schema of issue 19: users, a friendship, messages appended by the procedure, acked cursors,
      // and the rows the old pruner removed below them already gone.
      await db.query(
        `INSERT INTO user (id, name, name_key, password, session_epoch) VALUES
         (1, 'ann', 'ann', 'h1', 2), (2, 'ben', 'ben', 'h2', 0), (3, 'cat', 'cat', 'h3', 0)`,
      );
      await db.query('INSERT INTO friend (userid, friendid) VALUES (1, 2), (2, 1)');
      const batch = Array.from({ length: 6 }, (_, i) => ({
        s: 1,
        u: 2,
        c: 'u:1:2',
        b: `m${i + 1}`,
        t: 't',
        r: [2],
      }));
      await db.execute('CALL parley_append_batch(?, ?)', [JSON.stringify(batch), 1]);
      await db.query('UPDATE inbox_cursor SET acked_seq = 4 WHERE user_id = 2');
      await db.query('DELETE FROM inbox WHERE user_id = 2 AND seq < 4');

      const applied = await migrate(db, migrations);
      expect(applied.map((m) => m.version)).toEqual(
        migrations.filter((m) => m.version >= 5).map((m) => m.version),
      );
      const store = createMysqlStore(db, clock);
      const messages = store.messages as MysqlMessageStore;
      expect(await store.users.findById(1)).toMatchObject({
        name: 'ann',
        sessionEpoch: 2,
        presenceHidden: false,
      });
      // Ben's first device after the upgrade starts at his old acked cursor, and everything after it is there.
      const laptop = await messages.openDevice(2, 'laptop');
      expect(laptop).toEqual({ ackedSeq: 4, lastSeq: 6, reset: true, epoch: 0, activeDevices: 1 });
      expect((await messages.readInbox(2, laptop.ackedSeq, 10)).map((e) => e.message.body)).toEqual([
        'm5',
        'm6',
      ]);
      // The floor holds until a device acks past it; a second device also starts there.
      await messages.pruneAcked();
      expect((await messages.openDevice(2, 'phone')).ackedSeq).toBe(4);
      await messages.ack(2, 'laptop', 6);
      await messages.ack(2, 'phone', 5);
      await messages.pruneAcked();
      expect((await messages.readInbox(2, 0, 10)).map((e) => e.seq)).toEqual([5, 6]);
      // Old messages take part in the conversation list and read markers.
      const [withAnn] = (await store.reads.conversations(2, undefined, 10)).items;
      expect(withAnn).toMatchObject({ target: { kind: 'user', id: 1 }, name: 'ann', unread: 6, readUpTo: 0 });
      expect(await store.reads.markRead(2, { kind: 'user', id: 1 }, withAnn!.last.id)).toBe(withAnn!.last.id);
      await store.close();
    } finally {
      await db.close().catch(() => undefined);
    }
  });

  it('refuses to run when an applied migration file was changed', async () => {
    const url = await createDatabase(rootUrl);
    const db = openDatabase(url);
    try {
      await migrate(db, await loadMigrations(SQL_DIR));
      const dir = await mkdtemp(join(tmpdir(), 'parley-sql-'));
      await cp(SQL_DIR, dir, { recursive: true });
      const file = join(dir, '001_initial.sql');
      await writeFile(file, `${await readFile(file, 'utf8')}\n-- edited\n`);
      await expect(migrate(db, await loadMigrations(dir))).rejects.toThrow(
        /was changed after it was applied/,
      );
    } finally {
      await db.close();
    }
  });

  it('splits statements on semicolons at line ends and drops comment lines', () => {
    expect(
      splitStatements("-- c\nCREATE TABLE a (x INT);\n\nCREATE TABLE b (y VARCHAR(3) DEFAULT ';');\n"),
    ).toEqual(['CREATE TABLE a (x INT)', "CREATE TABLE b (y VARCHAR(3) DEFAULT ';')"]);
  });

  it('keeps a procedure body whole between DELIMITER lines, as the mysql client does', () => {
    const sql = [
      'CREATE TABLE a (x INT);',
      'DELIMITER $$',
      'CREATE PROCEDURE p()',
      'BEGIN',
      '  -- inside',
      '  INSERT INTO a VALUES (1);',
      '  SELECT 2;',
      'END$$',
      'delimiter ;',
      'DROP TABLE a;',
    ].join('\n');
    expect(splitStatements(sql)).toEqual([
      'CREATE TABLE a (x INT)',
      'CREATE PROCEDURE p()\nBEGIN\n  INSERT INTO a VALUES (1);\n  SELECT 2;\nEND',
      'DROP TABLE a',
    ]);
  });
});
