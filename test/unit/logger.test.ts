import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

describe('createLogger', () => {
  it('writes JSON lines that all carry the node id, with credentials redacted', () => {
    const out = sink();
    const logger = createLogger('info', { node: 'chat-1', destination: out.stream });
    logger.info({ password: 'hunter2' }, 'first');
    logger.child({ remote: '127.0.0.1' }).warn('second');
    const lines = out
      .text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line.node, line.msg])).toEqual([
      ['chat-1', 'first'],
      ['chat-1', 'second'],
    ]);
    expect(out.text()).not.toContain('hunter2');
  });

  it('writes readable lines with the node id for a terminal', () => {
    const out = sink();
    const logger = createLogger('info', { node: 'chat-1', destination: out.stream, pretty: true });
    logger.info({ chat: '0.0.0.0:6000' }, 'Parley listening (single node, data kept in memory)');
    expect(out.text()).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[chat-1\] Parley listening \(single node, data kept in memory\)\n {4}chat: "0\.0\.0\.0:6000"\n$/,
    );
  });
});
