// Lint: type-aware promise rules plus the layer boundaries from docs/ARCHITECTURE.md.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Each entry forbids `from` (gitignore-style globs, `!` re-allows) or `regex` (over the import string).
const restrict = (patterns) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: patterns.map(({ from, regex, why }) =>
        regex ? { regex, message: why } : { group: [from].flat(), message: why },
      ),
    },
  ],
});

// What a storage/bus/presence adapter (model, redis, embedded) must not import; `others` are the
// sibling adapters. Allowed: the service's ports (telemetry included) and its pure rules, errors, logger,
// config, util.
const adapter = (others) =>
  restrict([
    {
      from: [
        '**/service/**',
        '!**/service/ports.js',
        '!**/service/telemetry.js',
        '!**/service/attempt-limits.js',
        '!**/service/credential-cache.js',
        '!**/service/text-rules.js',
        '!**/service/conversation.js',
      ],
      why: 'adapters implement the service ports; they use no service beyond ports, telemetry, attempt-limits, credential-cache, text-rules and conversation',
    },
    { from: '**/net/**', why: 'adapters know no sockets' },
    { from: '**/protocol/**', why: 'adapters know no wire protocol' },
    { from: '**/kv/**', why: 'kv is its own subsystem' },
    { from: '**/admin/**', why: 'adapters know no admin plane' },
    { from: '**/client/**', why: 'the client is a separate program' },
    { from: '**/cli/**', why: 'the client is a separate program' },
    { from: ['**/app.js', '**/main.js'], why: 'only the composition root knows every layer' },
    ...others.map((other) => ({ from: `**/${other}/**`, why: 'adapters do not use each other' })),
  ]);

// eslint reads the default export of its config file.
// eslint-disable-next-line no-restricted-syntax
export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'coverage/**',
      'node_modules/**',
      'web/**',
      'test-artifacts/**',
      'bin/**',
      '.tmp/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' },
      ],
    },
  },
  {
    // Plain JavaScript that runs before anything is built (scripts/server-build.mjs): no type information.
    files: ['scripts/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', URL: 'readonly' },
    },
  },
  {
    files: ['src/service/**'],
    rules: restrict([
      { from: 'mysql2*', why: 'service depends on ports only' },
      { from: 'ioredis', why: 'service depends on ports only' },
      { from: 'ws', why: 'service knows no transports' },
      { from: 'node:net', why: 'service knows no sockets' },
      { from: '**/net/**', why: 'service must not import net' },
      { from: '**/protocol/**', why: 'service must not import the wire protocol' },
      { from: '**/model/**', why: 'adapters depend on service, not the reverse' },
      { from: '**/redis/**', why: 'adapters depend on service, not the reverse' },
      { from: '**/embedded/**', why: 'adapters depend on service, not the reverse' },
      // service may import util, errors and logger.
      { from: '**/kv/**', why: 'kv is its own subsystem' },
      { from: '**/admin/**', why: 'service knows no admin plane' },
      { from: '**/client/**', why: 'the client is a separate program' },
      { from: '**/cli/**', why: 'the client is a separate program' },
      { from: ['**/app.js', '**/main.js'], why: 'only the composition root knows every layer' },
    ]),
  },
  {
    files: ['src/protocol/**'],
    rules: restrict([
      { from: 'ws', why: 'protocol knows messages, not transports' },
      { from: 'node:net', why: 'protocol knows messages, not sockets' },
      { from: '**/net/**', why: 'net depends on protocol, not the reverse' },
      { from: '**/model/**', why: 'protocol talks to service ports' },
      { from: '**/redis/**', why: 'protocol talks to service ports' },
      { from: '**/embedded/**', why: 'protocol talks to service ports' },
    ]),
  },
  {
    // net is a frame channel (as ws is for WebSocket): it knows bytes, sockets and states, no meaning.
    files: ['src/net/**'],
    rules: restrict([
      { from: '**/protocol/**', why: 'net carries frames; protocol (ClientSession) owns their meaning' },
      { from: '**/service/**', why: 'net carries frames; it knows no chat rules' },
      { from: '**/errors.js', why: 'error codes are protocol meaning; net reports faults by name' },
      { from: '**/model/**', why: 'net must not reach storage' },
      { from: '**/redis/**', why: 'net must not reach the bus adapter' },
      { from: '**/embedded/**', why: 'net must not reach storage' },
      { from: '**/kv/**', why: 'the KV plane is the admin room' },
    ]),
  },
  {
    // The admin plane is its own room: KV, metrics, logger and errors, never the chat stack or adapters.
    files: ['src/admin/**'],
    rules: restrict([
      { from: '**/net/**', why: 'the admin plane knows nothing of the chat edge' },
      { from: '**/protocol/**', why: 'the admin plane knows nothing of the chat protocol' },
      { from: '**/service/**', why: 'the admin plane reads the node through values app.ts passes in' },
      { from: '**/model/**', why: 'the admin plane must not reach storage' },
      { from: '**/redis/**', why: 'the admin plane gets node infos as a function from app.ts' },
      { from: '**/embedded/**', why: 'the admin plane must not reach storage' },
      { from: 'mysql2*', why: 'the admin plane must not reach storage' },
      { from: 'ioredis', why: 'the admin plane gets node infos as a function from app.ts' },
      { from: 'ws', why: 'the admin plane knows nothing of the chat edge' },
    ]),
  },
  {
    files: ['src/kv/**'],
    rules: restrict([{ from: '**/service/**', why: 'kv is its own subsystem' }]),
  },
  { files: ['src/model/**'], rules: adapter(['redis', 'embedded']) },
  { files: ['src/redis/**'], rules: adapter(['model', 'embedded']) },
  { files: ['src/embedded/**'], rules: adapter(['model', 'redis']) },
  {
    files: ['src/util/**'],
    rules: restrict([
      { regex: '^\\.\\./', why: 'util is the bottom layer: it imports nothing from the project' },
    ]),
  },
  {
    files: ['src/client/**'],
    rules: restrict([
      {
        regex: '^\\.\\./(?!util/)',
        why: 'the client is a separate program: nothing from the server, only src/util',
      },
    ]),
  },
  {
    files: ['src/cli/**'],
    rules: restrict([
      {
        regex: '^\\.\\./(?!(client|util)/)',
        why: 'the terminal client builds on src/client and src/util only',
      },
    ]),
  },
  {
    files: ['test/**', 'bench/**', 'scripts/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
      // expect.any()/objectContaining() are typed `any` by vitest.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  { files: ['*.js'], ...tseslint.configs.disableTypeChecked },
);
