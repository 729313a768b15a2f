import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameTooLargeError } from '../../../src/net/frame-decoder.js';

function decodeChunks(chunks: (string | Buffer)[], max = 64 * 1024): string[] {
  const decoder = new FrameDecoder(max);
  const frames: string[] = [];
  for (const chunk of chunks)
    decoder.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk), (f) => frames.push(f));
  return frames;
}

function byteByByte(text: string): Buffer[] {
  const bytes = Buffer.from(text);
  return [...bytes].map((b) => Buffer.from([b]));
}

const a = '{"msgid":1,"id":1,"password":"pw"}';
const b = '{"msgid":6,"id":1,"toid":2,"msg":"x {} \\" } y","time":"t"}';

describe('FrameDecoder', () => {
  it('splits newline-terminated frames', () => {
    expect(decodeChunks([`${a}\n${b}\n`])).toEqual([a, b]);
  });

  it('splits NUL-terminated frames of the ancestor client, including two in one read', () => {
    expect(decodeChunks([`${a}\0${b}\0`])).toEqual([a, b]);
  });

  it('splits JSON objects sent back to back with no delimiter', () => {
    expect(decodeChunks([`${a}${b}${a}`])).toEqual([a, b, a]);
  });

  it('ignores braces and escaped quotes inside strings', () => {
    const tricky = '{"msg":"}{\\"}\\\\","n":{"x":[1,{"y":"]"}]}}';
    expect(decodeChunks([`${tricky}${tricky}`])).toEqual([tricky, tricky]);
  });

  it('reassembles every framing fed one byte at a time', () => {
    for (const text of [`${a}\n${b}\n`, `${a}\0${b}\0`, `${a}${b}`, `${a}\r\n${b}\r\n`]) {
      expect(decodeChunks(byteByByte(text))).toEqual([a, b]);
    }
  });

  it('keeps multi-byte UTF-8 characters intact when split across reads', () => {
    const text = '{"msg":"你好, мир 🎉"}';
    expect(decodeChunks(byteByByte(`${text}\n`))).toEqual([text]);
  });

  it('ignores blank lines, CRs and stray delimiters between frames', () => {
    expect(decodeChunks([`\n\n  ${a}\r\n\0\0 \t\n${b}`])).toEqual([a, b]);
  });

  it('emits non-JSON bytes as a frame of their own up to the next delimiter, then recovers', () => {
    expect(decodeChunks([`hello world\0${a}\n`])).toEqual(['hello world', a]);
  });

  it('ends a broken frame at a newline so it cannot swallow the next one', () => {
    expect(decodeChunks(['{"msgid":1,"password":"unterminated\n', `${a}\n`])).toEqual([
      '{"msgid":1,"password":"unterminated',
      a,
    ]);
  });

  it('holds an incomplete frame until the rest arrives', () => {
    const decoder = new FrameDecoder(1024);
    const frames: string[] = [];
    decoder.push(Buffer.from(a.slice(0, 10)), (f) => frames.push(f));
    expect(frames).toEqual([]);
    expect(decoder.pendingBytes).toBe(10);
    decoder.push(Buffer.from(a.slice(10)), (f) => frames.push(f));
    expect(frames).toEqual([a]);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('throws FrameTooLargeError when a frame outgrows the limit, complete or not', () => {
    const big = `{"msg":"${'x'.repeat(2000)}"}`;
    expect(() => decodeChunks([`${big}\n`], 1024)).toThrow(FrameTooLargeError);
    expect(() => decodeChunks([big.slice(0, 600), big.slice(600, 1200)], 1024)).toThrow(FrameTooLargeError);
    expect(() => decodeChunks(['x'.repeat(1025)], 1024)).toThrow(FrameTooLargeError);
  });

  it('accepts a frame of exactly the limit', () => {
    const frame = `{"m":"${'x'.repeat(1024 - 8)}"}`;
    expect(Buffer.byteLength(frame)).toBe(1024);
    expect(decodeChunks([`${frame}\n`], 1024)).toEqual([frame]);
  });

  it('yields the same frames for any split of a stream of random messages', () => {
    const message = fc
      .record({ msgid: fc.integer(), msg: fc.string({ unit: 'grapheme', maxLength: 40 }) })
      .map((m) => JSON.stringify(m));
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.constantFrom('\n', '\0', ''),
        (messages, cuts, delimiter) => {
          const bytes = Buffer.from(messages.join(delimiter) + delimiter);
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
          const chunks: Buffer[] = [];
          let last = 0;
          for (const p of points) {
            chunks.push(bytes.subarray(last, p));
            last = p;
          }
          chunks.push(bytes.subarray(last));
          expect(decodeChunks(chunks)).toEqual(messages);
        },
      ),
    );
  });
});
