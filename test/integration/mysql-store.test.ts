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

storeContract('mysql', async () => (await freshMysqlStore(rootUrl)).store);

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
        expect((await store.messages.cursor(user)).lastSeq).toBe(inbox.length);
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
        expect(await store.messages.cursor(id)).toEqual({ ackedSeq: 0, lastSeq: 1 });
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
      expect(await store.messages.cursor(b.id)).toEqual({ ackedSeq: 0, lastSeq: 3 });
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
      messages.stop();
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
      messages.stop();
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

  it('acks never deadlock with appends to the same inboxes on two "nodes"', async () => {
    // Acks lock cursor rows just as appends do; if the two took them in different orders, InnoDB would
    // pick one as a deadlock victim under this load within moments (and fail the ack).
    const { store, url } = await freshMysqlStore(rootUrl);
    const other = createMysqlStore(openDatabase(url, 8), systemClock);
    try {
      const users: { id: number }[] = [];
      for (let i = 0; i < 40; i++) users.push(await store.users.create(`u${i}`, 'h'));
      const failures: unknown[] = [];
      let acks = 0;
      await Promise.all(
        Array.from({ length: 120 }, async (_, worker) => {
          const node = worker % 2 ? store : other;
          for (let i = 0; i < 12; i++) {
            const from = users[worker % users.length]!.id;
            const to = users[(worker * 7 + i + 1) % users.length]!.id;
            const result = await node.messages.append(
              { senderId: from, target: { kind: 'user', id: to }, body: 'x', clientTime: 't', cmid: null },
              [to],
            );
            // Not awaited, as a session's acks are not: they pile up and flush together.
            for (const delivery of result.deliveries)
              void node.messages.ack(delivery.userId, delivery.seq).then(
                () => acks++,
                (error: unknown) => failures.push(error),
              );
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

  it('writes the acks of many users in one flush and prunes each to its own cursor in one statement', async () => {
    const { store, db } = await freshMysqlStore(rootUrl);
    const messages = store.messages as MysqlMessageStore;
    try {
      const sender = await store.users.create('sender', 'h');
      const users: { id: number }[] = [];
      for (let i = 0; i < 6; i++) users.push(await store.users.create(`r${i}`, 'h'));
      // User i gets i + 2 messages and acks i + 1 of them (the last user claims more than it has).
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
      await Promise.all(users.map((user, i) => messages.ack(user.id, i === 5 ? 99 : i + 1)));
      await messages.pruneAcked();
      for (const [i, user] of users.entries()) {
        const acked = i === 5 ? i + 2 : i + 1;
        expect(await messages.cursor(user.id)).toEqual({ ackedSeq: acked, lastSeq: i + 2 });
        const rows = await db.query<{ seq: number }[]>(
          'SELECT seq FROM inbox WHERE user_id = ? ORDER BY seq',
          [user.id],
        );
        // Everything below the acked row is gone; the acked row and what is still owed stay.
        expect(rows.map((row) => Number(row.seq))).toEqual(
          Array.from({ length: i + 2 - acked + 1 }, (_, k) => acked + k),
        );
      }
    } finally {
      await store.close();
    }
  });

  it('prunes acked inbox rows below the stored cursor, never past the last stored sequence', async () => {
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
      const send = (to: number, body: string) =>
        messages.append(
          { senderId: a.id, target: { kind: 'user', id: to }, body, clientTime: 't', cmid: null },
          [to],
        );
      for (let i = 1; i <= 5; i++) await send(b.id, `b${i}`);
      await send(c.id, 'c1');

      await messages.ack(b.id, 3);
      await messages.pruneAcked();
      expect(await rowsOf(b.id)).toEqual([3, 4, 5]); // the acked row itself stays (see pruneAcked)
      expect((await messages.readInbox(b.id, 3, 10)).map((e) => e.message.body)).toEqual(['b4', 'b5']);
      expect(await rowsOf(c.id)).toEqual([1]); // not acked: untouched

      // A client claiming more than was stored moves the cursor only to the last sequence, so a message
      // stored after the claim is still owed and kept.
      await messages.ack(b.id, 100);
      await send(b.id, 'b6');
      await messages.pruneAcked();
      expect(await rowsOf(b.id)).toEqual([5, 6]);
      expect(await messages.cursor(b.id)).toEqual({ ackedSeq: 5, lastSeq: 6 });
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
