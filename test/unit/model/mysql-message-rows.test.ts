import { describe, expect, it } from 'vitest';
import type { AppendRequest } from '../../../src/model/append-batcher.js';
import { appendStatements, idSourceOf } from '../../../src/model/mysql-message-rows.js';

const to = (
  senderId: number,
  recipients: number[],
  body = 'hi',
  cmid: string | null = null,
): AppendRequest => ({
  draft: { senderId, target: { kind: 'user', id: recipients[0]! }, body, clientTime: 't', cmid },
  recipients,
});

describe('idSourceOf', () => {
  it('takes AUTO_INCREMENT ids only where a multi-row insert gets consecutive ones', () => {
    expect(idSourceOf(1, 1)).toBe('auto-increment'); // MariaDB's default
    expect(idSourceOf(0, 1)).toBe('auto-increment');
    expect(idSourceOf(2, 1)).toBe('sequence'); // MySQL 8's default: interleaved
    expect(idSourceOf(1, 2)).toBe('sequence'); // a step, as under Galera or multi-source replication
    expect(idSourceOf(Number.NaN, 1)).toBe('sequence');
  });
});

describe('appendStatements', () => {
  it('is one transaction: messages, counters in user-id order, inbox rows, counters read back, commit', () => {
    const { sql, params, messagesAt, cursorsAt, recipients } = appendStatements(
      [to(1, [30, 20]), to(2, [20]), to(3, [30, 30, 10], 'it\'s; "quoted"', 'c-1')],
      1234,
    );
    const statements = sql.split(';\n');
    expect(statements[0]).toBe('START TRANSACTION');
    expect(statements[messagesAt]).toMatch(
      /^INSERT INTO message .* VALUES \(\?(,\?){7}\)(,\(\?(,\?){7}\)){2}$/s,
    );
    expect(statements[2]).toMatch(/^INSERT INTO inbox_cursor .*ON DUPLICATE KEY UPDATE/s);
    expect(statements[3]).toMatch(/^INSERT INTO inbox .*JSON_TABLE/s);
    expect(statements[cursorsAt!]).toMatch(
      /^SELECT user_id, last_seq FROM inbox_cursor WHERE user_id IN \(\?,\?,\?\)$/,
    );
    expect(statements.at(-1)).toBe('COMMIT');
    expect(statements).toHaveLength(6);
    // Duplicate recipients of one append count once.
    expect(recipients).toEqual([[30, 20], [20], [30, 10]]);
    // Message rows (8 values each, the body as a parameter), then counters by user id, then the inbox rows
    // as [user, rows of that user after this one, index in the batch], then the users read back.
    expect(params.slice(0, 8)).toEqual([1, 30, null, 'u:1:30', 'hi', 't', null, 1234]);
    expect(params.slice(16, 24)).toEqual([3, 30, null, 'u:3:30', 'it\'s; "quoted"', 't', 'c-1', 1234]);
    expect(params.slice(24, 30)).toEqual([10, 1, 20, 2, 30, 2]);
    expect(JSON.parse(params[30] as string)).toEqual([
      [10, 0, 2],
      [20, 1, 0],
      [20, 0, 1],
      [30, 1, 0],
      [30, 0, 2],
    ]);
    expect(params.slice(31)).toEqual([10, 20, 30]);
  });

  it('writes no counters or inbox rows for a message without recipients', () => {
    const { sql, params, cursorsAt } = appendStatements([{ ...to(1, [2]), recipients: [] }], 5);
    expect(sql.split(';\n')).toEqual([
      'START TRANSACTION',
      expect.stringMatching(/^INSERT INTO message /),
      'COMMIT',
    ]);
    expect(params).toHaveLength(8);
    expect(cursorsAt).toBeUndefined();
  });
});
