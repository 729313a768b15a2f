/**
 * The Lua scripts behind RedisPresence. Each runs atomically in Redis, so two nodes racing on one user
 * (two logins, a detach and a sweep, two sweeps) cannot both pass a check or both report a change.
 *
 * One hash per user (`RedisKeys.presence`):
 * - `d:<device>` = `<deadline ms> <node>/<session>/<cid>/<attempt>/<attached-at ms>`: the device's lease,
 *   live until its deadline (Redis server time, so node clocks never compare against each other);
 * - `h` = `1` while the user hides their presence;
 * - `s` = when the user was last seen (ms since the epoch), written when they went offline visibly.
 * The hash itself expires after the retention time (long: it keeps `s` and `h`) unless written again.
 *
 * A user "is online" (as reported to friends) while the hash holds any `d:` field, live or expired but not
 * yet swept: so what `viewsOf` answers and the changes `onChange` reports always agree. A sorted set
 * (`RedisKeys.presenceExpiry`) scores each such user by the latest deadline written; the sweep claims the
 * users whose deadline passed, and exactly one node's check removes them and reports them offline.
 */

/** Shared helpers, prepended to each script. */
const PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function deadline_of(v)
  return tonumber(string.match(v, '^(%d+) ')) or 0
end
-- Reads the user's device leases and deletes the expired ones except \`keep\` (returned as \`kept\`):
-- had = the hash held a device field (the user was online), live = live devices other than keep,
-- latest = their latest deadline, gone = the latest deadline among the deleted ones.
local function devices(key, now, keep)
  local all = redis.call('HGETALL', key)
  local d = { had = false, live = 0, latest = 0, gone = 0, kept = false }
  for i = 1, #all, 2 do
    local f = all[i]
    if string.sub(f, 1, 2) == 'd:' then
      d.had = true
      local deadline = deadline_of(all[i + 1])
      if f == keep then
        d.kept = all[i + 1]
      elseif deadline > now then
        d.live = d.live + 1
        if deadline > d.latest then d.latest = deadline end
      else
        redis.call('HDEL', key, f)
        if deadline > d.gone then d.gone = deadline end
      end
    end
  end
  return d
end
-- Raises the user's score in the expiry set to \`deadline\` (never lowers it: the sweep re-checks).
local function mark(zset, user, deadline)
  local s = redis.call('ZSCORE', zset, user)
  if not s or tonumber(s) < deadline then redis.call('ZADD', zset, deadline, user) end
end
local function lease_value(deadline, lease)
  return string.format('%d', deadline) .. ' ' .. lease
end
`;

/**
 * Claims the device's lease. KEYS: hash, expiry set. ARGV: device field, lease, ttl ms, cid ('' = none),
 * attempt, max devices, hidden ('1'/'0'), user id, retention ms.
 * Returns {outcome, report}: outcome 1 attached, 0 stale (a live lease of the device names a newer
 * attempt of the same cid), -1 too many devices (the user has max other live devices); report 1 when
 * the user came online visibly (first device in, not hidden).
 */
export const CLAIM = `${PRELUDE}
local now = now_ms()
local d = devices(KEYS[1], now, ARGV[1])
if d.kept and ARGV[4] ~= '' and deadline_of(d.kept) > now then
  local cid, attempt = string.match(d.kept, '/([^/]+)/(%d+)/%d+$')
  if cid == ARGV[4] and tonumber(attempt) > tonumber(ARGV[5]) then return {0, 0} end
end
if d.live >= tonumber(ARGV[6]) then return {-1, 0} end
local deadline = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], lease_value(deadline, ARGV[2]))
local report = 0
if not d.had then
  -- First device in: the setting read at login holds (while online, setHidden keeps \`h\` current).
  if ARGV[7] == '1' then redis.call('HSET', KEYS[1], 'h', '1')
  else redis.call('HDEL', KEYS[1], 'h') report = 1 end
end
mark(KEYS[2], ARGV[8], deadline)
redis.call('PEXPIRE', KEYS[1], ARGV[9])
return {1, report}`;

/**
 * Renews the lease (heartbeat). KEYS: hash, expiry set. ARGV: device field, owner prefix, lease, ttl ms,
 * attached-at, hidden, user id, retention ms, written ('1' once this lease reached Redis before).
 * Returns 0 when a newer session holds the device (this one was superseded), 1 renewed, 2 renewed and
 * the user came online visibly: their record says they were reported offline (swept while this node
 * was cut off), or this lease had never reached Redis (attached while Redis was away).
 * A free field, an expired lease, or a live one of an *older* session is (re)claimed: after a Redis
 * restart a node still holding a stale session may renew first, and must not make the live one look
 * superseded. A missing record after a restart is re-asserted quietly: nobody reported the user offline.
 */
export const RENEW = `${PRELUDE}
local now = now_ms()
local existed = redis.call('EXISTS', KEYS[1]) == 1
local d = devices(KEYS[1], now, ARGV[1])
if d.kept and deadline_of(d.kept) > now then
  local lease = string.match(d.kept, '^%d+ (.*)$')
  if string.sub(lease, 1, #ARGV[2]) ~= ARGV[2]
    and (tonumber(string.match(lease, '/(%d+)$')) or 0) >= tonumber(ARGV[5]) then return 0 end
end
local deadline = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], lease_value(deadline, ARGV[3]))
local result = 1
if not d.had then
  if not existed then
    if ARGV[6] == '1' then redis.call('HSET', KEYS[1], 'h', '1')
    elseif ARGV[9] == '0' then result = 2 end
  elseif redis.call('HEXISTS', KEYS[1], 'h') == 0 then result = 2 end
end
mark(KEYS[2], ARGV[7], deadline)
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return result`;

/**
 * Releases the device's lease if it still names this session. KEYS: hash, expiry set. ARGV: device
 * field, owner prefix, user id, retention ms. Returns 0 (not ours: nothing done), 1 released, or the
 * time the user was last seen (> 1) when that was the last device out and the user was visible.
 */
export const RELEASE = `${PRELUDE}
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local lease = string.match(v, '^%d+ (.*)$') or ''
if string.sub(lease, 1, #ARGV[2]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local now = now_ms()
local d = devices(KEYS[1], now, nil)
if d.live > 0 then return 1 end
redis.call('ZREM', KEYS[2], ARGV[3])
if redis.call('HEXISTS', KEYS[1], 'h') == 1 then return 1 end
redis.call('HSET', KEYS[1], 's', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return now`;

/** The users whose latest lease deadline has passed. KEYS: expiry set. ARGV: at most this many. */
export const SWEEP_CANDIDATES = `${PRELUDE}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))`;

/**
 * Claims a user whose leases may all have expired. KEYS: hash, expiry set. ARGV: user id, ttl ms,
 * retention ms. Returns 0 (a lease is live, or another node claimed the user, or they are hidden) or
 * when they were last seen: the last renewal of their latest lease (its deadline minus the TTL).
 */
export const SWEEP_USER = `${PRELUDE}
local now = now_ms()
local d = devices(KEYS[1], now, nil)
if d.live > 0 then redis.call('ZADD', KEYS[2], d.latest, ARGV[1]) return 0 end
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], 'h') == 1 then return 0 end
local seen = now
if d.gone > 0 then seen = math.min(now, math.max(1, d.gone - tonumber(ARGV[2]))) end
redis.call('HSET', KEYS[1], 's', string.format('%d', seen))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return seen`;

/**
 * Stores the presence setting. KEYS: hash. ARGV: hidden ('1'/'0'), retention ms. Returns 0 (no visible
 * change: the same setting, or the user is offline), 1 (hid while online: now reads offline), 2 (showed
 * while online: now reads online).
 */
export const SET_HIDDEN = `
local was = redis.call('HEXISTS', KEYS[1], 'h') == 1
local want = ARGV[1] == '1'
if was == want then return 0 end
if want then redis.call('HSET', KEYS[1], 'h', '1') else redis.call('HDEL', KEYS[1], 'h') end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 'd:' then
    if want then return 1 end
    return 2
  end
end
return 0`;

/**
 * Visible presence of each user. KEYS: their hashes. Returns one number per key: -1 online, 0 offline
 * (unknown, or hidden), else offline and last seen then.
 */
export const VIEWS = `
local out = {}
for i, key in ipairs(KEYS) do
  local all = redis.call('HGETALL', key)
  local online, hidden, seen = false, false, 0
  for j = 1, #all, 2 do
    local f = all[j]
    if f == 'h' then hidden = true
    elseif f == 's' then seen = tonumber(all[j + 1]) or 0
    elseif string.sub(f, 1, 2) == 'd:' then online = true end
  end
  if hidden then out[i] = 0 elseif online then out[i] = -1 else out[i] = seen end
end
return out`;

/** The scripts as defined on the connection with `defineCommand` (called directly or on a pipeline). */
export interface PresenceScripts<R> {
  parleyPresenceClaim(
    hash: string,
    expiry: string,
    field: string,
    lease: string,
    ttlMs: number,
    cid: string,
    attempt: number,
    maxDevices: number,
    hidden: string,
    userId: number,
    retentionMs: number,
  ): R;
  parleyPresenceRenew(
    hash: string,
    expiry: string,
    field: string,
    owner: string,
    lease: string,
    ttlMs: number,
    attachedAt: number,
    hidden: string,
    userId: number,
    retentionMs: number,
    written: string,
  ): R;
  parleyPresenceRelease(
    hash: string,
    expiry: string,
    field: string,
    owner: string,
    userId: number,
    retentionMs: number,
  ): R;
  parleyPresenceSweepCandidates(expiry: string, limit: number): R;
  parleyPresenceSweepUser(
    hash: string,
    expiry: string,
    userId: number,
    ttlMs: number,
    retentionMs: number,
  ): R;
  parleyPresenceSetHidden(hash: string, hidden: string, retentionMs: number): R;
}

/** Name, key count and source of every script, for `defineCommand` (VIEWS takes a variable key count). */
export const PRESENCE_COMMANDS = [
  ['parleyPresenceClaim', 2, CLAIM],
  ['parleyPresenceRenew', 2, RENEW],
  ['parleyPresenceRelease', 2, RELEASE],
  ['parleyPresenceSweepCandidates', 1, SWEEP_CANDIDATES],
  ['parleyPresenceSweepUser', 2, SWEEP_USER],
  ['parleyPresenceSetHidden', 1, SET_HIDDEN],
] as const;
