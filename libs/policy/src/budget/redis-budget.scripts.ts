/**
 * Lua scripts of the Redis budget store. Every key shares one hash tag, so all of them live in one slot and a
 * script may touch the counters a stale reservation names (read from the reservation itself) on Redis Cluster too.
 *
 * Layout under `<base>` = `<prefix>{<tag>}:`:
 *   `<base>c:<counter key>`  hash { used, reserved }, expiring a grace period after its window ends
 *   `<base>r:<id>`           string, the reservation as JSON { s: state, c: [{ k, a, u, e }] }; once settled or
 *                            released only { s }
 *   `<base>pending`          sorted set of open reservation ids, scored by expiry (epoch ms)
 */

const PRELUDE = `
local function give_back(base, rec)
  for _, c in ipairs(rec.c) do
    local key = base .. 'c:' .. c.k
    -- Nothing to give back for a zero amount; and -0 is not an integer to Redis (HINCRBY would fail the script).
    if c.a ~= 0 and redis.call('EXISTS', key) == 1 then
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
 * Reserves a batch of reservations, one after the other, each atomic across its counters (a batch is what one
 * instance gathered in one turn of its event loop; the script as a whole runs atomically on the server).
 * KEYS: pending, then per reservation: its key and its counter keys.
 * ARGV: now, base, graceMs, then per reservation: id, ttlMs, reservationJson, reservationPx, counter count, and
 * (limit, amount, expiresAt) per counter.
 * Answers one reply per reservation: { 1, used1, reserved1, ... } after reserving it, or
 * { 0, failedIndex (1-based), used, reserved } when one of its counters would pass its limit.
 */
export const RESERVE_SCRIPT = `${PRELUDE}
local now = tonumber(ARGV[1])
local base = ARGV[2]
local grace = tonumber(ARGV[3])
expire_stale(base, KEYS[1], now, 100)
local replies = {}
local k = 2
local a = 4
while a <= #ARGV do
  local id = ARGV[a]
  local ttl = tonumber(ARGV[a + 1])
  local record = ARGV[a + 2]
  local px = ARGV[a + 3]
  local n = tonumber(ARGV[a + 4])
  local rkey = KEYS[k]
  local first = a + 5
  local reply = nil
  -- What each counter holds, read once: the answer and the expiry below need it.
  local held = {}
  for i = 1, n do
    local limit = tonumber(ARGV[first + (i - 1) * 3])
    local amount = tonumber(ARGV[first + (i - 1) * 3 + 1])
    local state = redis.call('HMGET', KEYS[k + i], 'used', 'reserved')
    local used = tonumber(state[1] or '0')
    local reserved = tonumber(state[2] or '0')
    if used + reserved + amount > limit then
      reply = { 0, i, used, reserved }
      break
    end
    held[i] = { used, state[1] == false }
  end
  if not reply then
    reply = { 1 }
    for i = 1, n do
      local amount = tonumber(ARGV[first + (i - 1) * 3 + 1])
      local key = KEYS[k + i]
      local reserved = redis.call('HINCRBY', key, 'reserved', amount)
      -- A counter without a used field is new (every script that creates one sets its expiry, which a key's window
      -- fixes): it gets the field and its expiry once, not on every call.
      if held[i][2] then
        redis.call('HSET', key, 'used', 0)
        redis.call('PEXPIREAT', key, tonumber(ARGV[first + (i - 1) * 3 + 2]) + grace)
      end
      reply[#reply + 1] = held[i][1]
      reply[#reply + 1] = reserved
    end
    redis.call('SET', rkey, record, 'PX', px)
    redis.call('ZADD', KEYS[1], now + ttl, id)
  end
  replies[#replies + 1] = reply
  k = k + n + 1
  a = first + n * 3
end
return replies
`;

/**
 * Settles or releases a batch of reservations.
 * KEYS: pending, then the reservation keys.  ARGV: base, graceMs, then per reservation: id, mode ('settle' |
 * 'release'), costMicro, tokens, requests.
 * Answers one reply per reservation: 1 when it changed something, 0 when the reservation was already settled or
 * released, or is unknown.
 */
export const FINISH_SCRIPT = `${PRELUDE}
local base = ARGV[1]
local grace = tonumber(ARGV[2])
local replies = {}
for j = 2, #KEYS do
  local a = 3 + (j - 2) * 5
  local id = ARGV[a]
  local rkey = KEYS[j]
  local changed = 0
  local raw = redis.call('GET', rkey)
  if not raw then
    redis.call('ZREM', KEYS[1], id)
  else
    local rec = cjson.decode(raw)
    if rec.s ~= 'settled' and rec.s ~= 'released' then
      local settle = ARGV[a + 1] ~= 'release'
      local actual = { cost = tonumber(ARGV[a + 2]), tokens = tonumber(ARGV[a + 3]), requests = tonumber(ARGV[a + 4]) }
      for _, c in ipairs(rec.c) do
        local key = base .. 'c:' .. c.k
        -- A counter this creates (it expired, or was evicted) must get its expiry: one whose reserved amount went below
        -- zero, or whose used amount is just this charge. A past expiry deletes it again at once.
        local fresh = false
        if rec.s == 'reserved' and c.a ~= 0 then
          if redis.call('HINCRBY', key, 'reserved', -c.a) < 0 then
            redis.call('HSET', key, 'reserved', 0)
            fresh = true
          end
        end
        local add = settle and (actual[c.u] or 0) or 0
        if add ~= 0 and redis.call('HINCRBY', key, 'used', add) == add then fresh = true end
        if fresh then redis.call('PEXPIREAT', key, c.e + grace) end
      end
      -- What is left of a finished reservation is its state: a repeated settle or release finds it and does nothing.
      redis.call('SET', rkey, settle and '{"s":"settled"}' or '{"s":"released"}', 'KEEPTTL')
      redis.call('ZREM', KEYS[1], id)
      changed = 1
    end
  end
  replies[#replies + 1] = changed
end
return replies
`;

/** KEYS: pending.  ARGV: base, now, max.  Answers { expired, ids looked at }. */
export const EXPIRE_SCRIPT = `${PRELUDE}
local expired, seen = expire_stale(ARGV[1], KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
return { expired, seen }
`;
