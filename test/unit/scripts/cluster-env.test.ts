import { describe, expect, it } from 'vitest';
import { NodeSettingError, nodeSettings } from '../../../scripts/lib/cluster-env.js';

describe('node settings of a local cluster', () => {
  it('passes on the Parley settings of the calling environment, and nothing else', () => {
    const settings = nodeSettings({ BCRYPT_COST: '4', LOG_LEVEL: 'debug', HOME: '/root', EDITOR: 'vi' }, []);
    expect(settings.env).toEqual({ BCRYPT_COST: '4', LOG_LEVEL: 'debug' });
    expect(settings.inherited).toEqual(['LOG_LEVEL', 'BCRYPT_COST']);
    expect(settings.flags).toEqual([]);
  });

  it('lets --env win over the environment', () => {
    const settings = nodeSettings({ LOG_LEVEL: 'warn' }, ['LOG_LEVEL=debug', 'MAX_MESSAGE_CHARS=10']);
    expect(settings.env).toEqual({ LOG_LEVEL: 'debug', MAX_MESSAGE_CHARS: '10' });
    expect(settings.inherited).toEqual([]);
    expect(settings.flags).toEqual(['LOG_LEVEL', 'MAX_MESSAGE_CHARS']);
  });

  it('keeps the variables the cluster sets per node out of the inherited ones', () => {
    const settings = nodeSettings(
      {
        NODE_ID: 'mine',
        CHAT_PORT: '6000',
        ADMIN_PORT: '8080',
        MYSQL_URL: 'mysql://x',
        REDIS_URL: 'redis://x',
      },
      [],
    );
    expect(settings.env).toEqual({});
  });

  it('refuses an unknown name, a cluster-owned name, a flag without = and a value the schema rejects', () => {
    const refusal = (env: NodeJS.ProcessEnv, flags: string[]) => {
      try {
        nodeSettings(env, flags);
      } catch (error) {
        expect(error).toBeInstanceOf(NodeSettingError);
        return (error as Error).message;
      }
      throw new Error('no refusal');
    };
    expect(refusal({}, ['NOPE=1'])).toBe('--env NOPE: not a Parley setting (npm start -- --help lists them)');
    expect(refusal({}, ['CHAT_PORT=7000'])).toMatch(/^--env CHAT_PORT: the cluster sets it/);
    expect(refusal({}, ['MYSQL_URL=mysql://a'])).toMatch(/export MYSQL_URL=/);
    expect(refusal({}, ['BCRYPT_COST'])).toBe('--env BCRYPT_COST: expected KEY=VALUE');
    expect(refusal({}, ['BCRYPT_COST=99'])).toMatch(/^BCRYPT_COST=99 \(--env\): /);
    expect(refusal({ LOG_LEVEL: 'loud' }, [])).toMatch(/^LOG_LEVEL=loud \(from the environment\): /);
    for (const message of [refusal({}, ['NOPE=1']), refusal({ LOG_LEVEL: 'loud' }, [])])
      expect(message).not.toContain('\n');
  });
});
