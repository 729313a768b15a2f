import { describe, expect, it } from 'vitest';
import { ConfigError, flagsToEnv, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      CHAT_HOST: '0.0.0.0',
      CHAT_PORT: 6000,
      ADMIN_HOST: '127.0.0.1',
      ADMIN_PORT: 8080,
      LOG_LEVEL: 'info',
      MYSQL_URL: undefined,
      REDIS_URL: undefined,
      MAX_FRAME_BYTES: 65536,
      MYSQL_APPEND_QUEUE_MAX: 10000,
      sessionSecretGenerated: true,
    });
    expect(config.NODE_ID).toMatch(/-\d+$/);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads environment variables and lets CLI flags win', () => {
    const config = loadConfig({ CHAT_PORT: '7000', NODE_ID: 'a1', SESSION_SECRET: 'x'.repeat(16) }, [
      '--chat-port',
      '7100',
      '--admin-port=9000',
    ]);
    expect(config.CHAT_PORT).toBe(7100);
    expect(config.ADMIN_PORT).toBe(9000);
    expect(config.NODE_ID).toBe('a1');
    expect(config.sessionSecretGenerated).toBe(false);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ CHAT_PORT: '70000' })).toThrow(/CHAT_PORT/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => loadConfig({ MYSQL_URL: 'postgres://x' })).toThrow(/MYSQL_URL: must start with mysql:\/\//);
    expect(() => loadConfig({ SESSION_SECRET: 'short' })).toThrow(/SESSION_SECRET/);
    expect(() => loadConfig({ MYSQL_APPEND_QUEUE_MAX: '0' })).toThrow(/MYSQL_APPEND_QUEUE_MAX/);
    expect(() => loadConfig({ OUTBOUND_MAX_BYTES: '10', OUTBOUND_HIGH_WATER_BYTES: '100' })).toThrow(
      /OUTBOUND_MAX_BYTES/,
    );
  });

  it('takes rediss:// and checks that TLS settings come in working sets, naming the variable', () => {
    expect(loadConfig({ REDIS_URL: 'rediss://h:6380', MYSQL_URL: 'mysql://u@h/db' }).REDIS_URL).toBe(
      'rediss://h:6380',
    );
    expect(() => loadConfig({ REDIS_URL: 'http://h' })).toThrow(
      /REDIS_URL: must start with redis:\/\/ or rediss:\/\//,
    );
    expect(() => loadConfig({ CHAT_TLS_CERT: '/c.pem' })).toThrow(
      /CHAT_TLS_KEY: required with CHAT_TLS_CERT/,
    );
    expect(() => loadConfig({ CHAT_TLS_KEY: '/k.pem' })).toThrow(/CHAT_TLS_CERT: required with CHAT_TLS_KEY/);
    expect(() => loadConfig({ CHAT_TLS_CA: '/ca.pem' })).toThrow(/CHAT_TLS_CA: client certificates need TLS/);
    expect(() => loadConfig({ REDIS_URL: 'redis://h', REDIS_TLS_CA: '/ca.pem' })).toThrow(
      /REDIS_TLS_CA: needs a rediss:\/\/ REDIS_URL/,
    );
    expect(() => loadConfig({ MYSQL_TLS_CA: '/ca.pem' })).toThrow(/MYSQL_TLS_CA: needs MYSQL_URL/);
    expect(() => loadConfig({ MYSQL_URL: 'mysql://u@h/db', MYSQL_TLS_KEY: '/k.pem' })).toThrow(
      /MYSQL_TLS_CERT: required with MYSQL_TLS_KEY/,
    );
    const full = loadConfig({ CHAT_TLS_CERT: '/c.pem', CHAT_TLS_KEY: '/k.pem', CHAT_TLS_CA: '/ca.pem' });
    expect(full).toMatchObject({ CHAT_TLS_CERT: '/c.pem', CHAT_TLS_KEY: '/k.pem', CHAT_TLS_CA: '/ca.pem' });
  });

  it('reads ADMIN_CORS_ORIGINS as a list of web origins and refuses anything else', () => {
    expect(loadConfig({}).ADMIN_CORS_ORIGINS).toEqual([]);
    expect(
      loadConfig({ ADMIN_CORS_ORIGINS: 'https://ops.example.com, http://localhost:3000' }).ADMIN_CORS_ORIGINS,
    ).toEqual(['https://ops.example.com', 'http://localhost:3000']);
    for (const bad of ['*', 'ops.example.com', 'https://ops.example.com/path', 'ftp://x'])
      expect(() => loadConfig({ ADMIN_CORS_ORIGINS: bad })).toThrow(/ADMIN_CORS_ORIGINS: .*not a web origin/);
    expect(() => loadConfig({ ADMIN_TLS_CERT: '/c.pem' })).toThrow(
      /ADMIN_TLS_KEY: required with ADMIN_TLS_CERT/,
    );
  });

  it('refuses unknown flags and flags without values', () => {
    expect(() => flagsToEnv(['--no-such-thing', '1'])).toThrow(ConfigError);
    expect(() => flagsToEnv(['--chat-port'])).toThrow(/needs a value/);
    expect(() => flagsToEnv(['stray'])).toThrow(/unexpected argument/);
  });
});
