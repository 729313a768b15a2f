import { describe, expect, it } from 'vitest';
import { configHelp } from '../../src/config-help.js';
import { configSchema, flagName } from '../../src/config.js';

describe('npm start -- --help', () => {
  const help = configHelp();

  it('lists every setting of the schema with its flag and its meaning', () => {
    for (const [key, schema] of Object.entries(configSchema.shape)) {
      expect(help, key).toContain(`  ${key}, --${flagName(key)} `);
      expect(schema.description, key).toBeTruthy();
      expect(help, key).toContain(`      ${schema.description}\n`);
    }
  });

  it('shows the defaults, computed ones and choices included', () => {
    expect(help).toContain('CHAT_PORT, --chat-port <n>  (default: 6000)');
    expect(help).toContain('ADMIN_HOST, --admin-host <value>  (default: 127.0.0.1)');
    expect(help).toContain(
      'LOG_LEVEL, --log-level <fatal|error|warn|info|debug|trace|silent>  (default: info)',
    );
    expect(help).toContain('NODE_ID, --node-id <value>  (default: <hostname>-<pid>)');
    expect(help).toContain('SESSION_SECRET, --session-secret <value>  (default: random per process)');
    expect(help).toContain('MYSQL_URL, --mysql-url <url>  (default: unset)');
    expect(help).toMatch(/-h, --help +show this help and exit/);
    expect(help).toMatch(/-V, --version +print the version and exit/);
  });
});
