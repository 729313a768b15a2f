import { describe, expect, it } from 'vitest';
import { CorsPolicy } from '../../../src/admin/admin-cors.js';

describe('CorsPolicy', () => {
  const policy = new CorsPolicy(['https://ops.example.org']);

  it("serves the admin page's own origin under an address, and listed origins", () => {
    expect(policy.verdict(undefined, '127.0.0.1:8080', false)).toBe('same');
    expect(policy.verdict('http://127.0.0.1:8080', '127.0.0.1:8080', false)).toBe('same');
    expect(policy.verdict('http://[::1]:8080', '[::1]:8080', false)).toBe('same');
    expect(policy.verdict('http://localhost:8080', 'localhost:8080', false)).toBe('same');
    expect(policy.verdict('https://ops.example.org', 'admin.internal:8080', false)).toBe('listed');
  });

  it('refuses a page whose own name was rebound to the admin address (Origin == Host, a name)', () => {
    expect(policy.verdict('http://evil.example:8080', 'evil.example:8080', false)).toBe('refused');
    expect(policy.verdict('http://evil.example', '127.0.0.1:8080', false)).toBe('refused');
  });
});
