import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config.js';

describe('README', () => {
  it('documents every configuration variable in its table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const missing = Object.keys(configSchema.shape).filter(
      (key) => !new RegExp(`^\\|\\s*\`${key}\`\\s*\\|`, 'm').test(readme),
    );
    expect(missing).toEqual([]);
  });
});

describe('LICENSE', () => {
  it('is the licence package.json names, held by its author', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      license: string;
      author: string;
    };
    const license = readFileSync(new URL('../../LICENSE', import.meta.url), 'utf8');
    expect(pkg.license).toBe('MIT');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} (.+)\n/);
    expect(/Copyright \(c\) \d{4} (.+)\n/.exec(license)?.[1]).toBe(pkg.author);
  });
});
