/**
 * Lua scripts of the Redis budget store. Every key shares one hash tag, so all of them live in one slot and a
 * script may touch the counters a stale reservation names (read from the reservation itself) on Redis Cluster too.
 *
 * Layout under `<base>` = `<prefix>{<tag>}:`:
 *   `<base>c:<counter key>`  hash { used, reserved }, expiring a grace period after its window ends
 *   `<base>r:<id>`           string, the reservation as JSON { s: state, c: [{ k, a, u, e }] }
 *   `<base>pending`          sorted set of open reservation ids, scored by expiry (epoch ms)
 */

const PRELUDE = `
local function give_back(base, rec)
  for _, c in ipairs(rec.c) do
    local key = base .. 'c:' .. c.k
    if redis.call('EXISTS', key) == 1 then
      local left = redis.call('HINCRBY', key, 'reserved', -c.a)
      if left < 0 then redis.call('HSET', key, 'reserved', 0) end
    end
  end
end

local function expire_one(base, pending, id)
  redis.call('ZREM', pending, id)
  local rkey = base .. 'r:' .. id
  local raw = redis.call('GET', rkey)
  if not raw then return 0 end
  local rec = cjson.decode(raw)
  if rec.s ~= 'reserved' then return 0 end
  give_back(base, rec)
  rec.s = 'expired'
  redis.call('SET', rkey, cjson.encode(rec), 'KEEPTTL')
  return 1
end

local function expire_stale(base, pending, now, max)
  local ids = redis.call('ZRANGEBYSCORE', pending, '-inf', now, 'LIMIT', 0, max)
  local n = 0
  for _, id in ipairs(ids) do n = n + expire_one(base, pending, id) end
  return n, #ids
end
`;

/**
 * KEYS: pending, reservation, counter keys...
 * ARGV: now, ttlMs, id, base, reservationJson, reservationPx, graceMs, then (limit, amount, expiresAt) per counter.
 * Answers { 1, used1, reserved1, ... } after reserving, or { 0, failedIndex (1-based), used, reserved }.
 */
export const RESERVE_SCRIPT = `${PRELUDE}
local now = tonumber(ARGV[1])
local base = ARGV[4]
local grace = tonumber(ARGV[7])
expire_stale(base, KEYS[1], now, 100)
local n = #KEYS - 2
for i = 1, n do
  local limit = tonumber(ARGV[7 + (i - 1) * 3 + 1])
  local amount = tonumber(ARGV[7 + (i - 1) * 3 + 2])
  local state = redis.call('HMGET', KEYS[i + 2], 'used', 'reserved')
  local used = tonumber(state[1] or '0')
  local reserved = tonumber(state[2] or '0')
  if used + reserved + amount > limit then
    return { 0, i, used, reserved }
  end
end
local out = { 1 }
for i = 1, n do
  local amount = tonumber(ARGV[7 + (i - 1) * 3 + 2])
  local expires_at = tonumber(ARGV[7 + (i - 1) * 3 + 3])
  local key = KEYS[i + 2]
  local reserved = redis.call('HINCRBY', key, 'reserved', amount)
  local used = tonumber(redis.call('HGET', key, 'used') or '0')
  if used == 0 then redis.call('HSETNX', key, 'used', 0) end
  redis.call('PEXPIREAT', key, expires_at + grace)
  out[#out + 1] = used
  out[#out + 1] = reserved
end
redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[6])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
return out
`;

/**
 * KEYS: pending, reservation.  ARGV: id, base, mode ('settle' | 'release'), costMicro, tokens, requests, graceMs.
 * Answers 1 when it changed something, 0 when the reservation was already settled/released or is unknown.
 */
export const FINISH_SCRIPT = `${PRELUDE}
local raw = redis.call('GET', KEYS[2])
if not raw then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
local rec = cjson.decode(raw)
if rec.s == 'settled' or rec.s == 'released' then return 0 end
local base = ARGV[2]
if ARGV[3] == 'release' then
  if rec.s == 'reserved' then give_back(base, rec) end
  rec.s = 'released'
else
  local actual = { cost = tonumber(ARGV[4]), tokens = tonumber(ARGV[5]), requests = tonumber(ARGV[6]) }
  local grace = tonumber(ARGV[7])
  if rec.s == 'reserved' then give_back(base, rec) end
  for _, c in ipairs(rec.c) do
    local key = base .. 'c:' .. c.k
    redis.call('HINCRBY', key, 'used', actual[c.u] or 0)
    redis.call('HSETNX', key, 'reserved', 0)
    redis.call('PEXPIREAT', key, c.e + grace)
  end
  rec.s = 'settled'
end
redis.call('SET', KEYS[2], cjson.encode(rec), 'KEEPTTL')
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`;

/** KEYS: pending.  ARGV: base, now, max.  Answers { expired, ids looked at }. */
export const EXPIRE_SCRIPT = `${PRELUDE}
local expired, seen = expire_stale(ARGV[1], KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
return { expired, seen }
`;
