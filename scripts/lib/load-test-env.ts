/**
 * Limits raised for tests and benchmarks, which open thousands of connections and accounts from one
 * address (loopback gets no silent exemption in the server: the harness says so out loud). Tests of the
 * limits themselves set their own values.
 */
export const LOAD_TEST_LIMITS: Readonly<Record<string, string>> = {
  MAX_CONNECTIONS_PER_IP: '100000',
  LOGIN_PER_IP_PER_MIN: '1000000',
  REGISTER_PER_IP_PER_HOUR: '1000000',
  ACCOUNT_FAILURES_BEFORE_DELAY: '1000000',
  BCRYPT_QUEUE: '100000',
  BCRYPT_QUEUE_PER_IP: '100000',
};

/**
 * What a benchmark's nodes run with: the limits above, quiet logs, cheap password hashes (the chat
 * benchmarks measure messages, not bcrypt) and a per-connection login budget that lets a storm through.
 */
export const BENCH_NODE_ENV: Readonly<Record<string, string>> = {
  ...LOAD_TEST_LIMITS,
  LOG_LEVEL: 'warn',
  BCRYPT_COST: '4',
  LOGIN_BURST: '1000',
  LOGIN_RATE_PER_S: '1000',
};
