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
 * instance gathered in one turn of its event loop; the script as a whole runs atomically on the server). Each
 * counter the batch names is read once and written once, whatever the number of reservations on it: concurrent
 * requests of one principal, tenant or the global budget share counters, and one command per counter instead of two
 * per reservation and counter is most of the script's cost on the server.
 * KEYS: pending, then the distinct counter keys of the batch (m of them), then one key per reservation.
 * ARGV: now, base, graceMs, m, and the batch as one JSON array (one argument to encode and decode, instead of some
 * twenty per reservation): per reservation [id, ttlMs, reservationPx, reservationJson, [index of a counter's key in
 * KEYS, limit, amount, expiresAt, ... for each counter]].
 * Answers one reply per reservation: { 1, used1, reserved1, ... } after reserving it, or
 * { 0, failedIndex (1-based), used, reserved } when one of its counters would pass its limit.
 */
export const RESERVE_SCRIPT = `${PRELUDE}
local now = tonumber(ARGV[1])
local base = ARGV[2]
local grace = tonumber(ARGV[3])
local m = tonumber(ARGV[4])
expire_stale(base, KEYS[1], now, 100)
-- What each counter holds, read on first use and kept up to date below; written back once at the end.
local held = {}
local function counter(i)
  local c = held[i]
  if c == nil then
    local state = redis.call('HMGET', KEYS[i], 'used', 'reserved')
    -- A counter without a used field is new (every script that creates one sets its expiry, which a key's window
    -- fixes): it gets the field and its expiry once, not on every call.
    c = { used = tonumber(state[1] or '0'), reserved = tonumber(state[2] or '0'), created = state[1] == false,
          delta = 0, expires = 0, touched = false }
    held[i] = c
  end
  return c
end
local replies = {}
local added = {}
for j, r in ipairs(cjson.decode(ARGV[5])) do
  local cs = r[5]
  local n = #cs / 4
  local reply = nil
  for i = 1, n do
    local at = (i - 1) * 4
    local c = counter(cs[at + 1])
    if c.used + c.reserved + cs[at + 3] > cs[at + 2] then
      reply = { 0, i, c.used, c.reserved }
      break
    end
  end
  if not reply then
    reply = { 1 }
    for i = 1, n do
      local at = (i - 1) * 4
      local c = held[cs[at + 1]]
      local amount = cs[at + 3]
      c.reserved = c.reserved + amount
      c.delta = c.delta + amount
      c.touched = true
      if cs[at + 4] > c.expires then c.expires = cs[at + 4] end
      reply[#reply + 1] = c.used
      reply[#reply + 1] = c.reserved
    end
    redis.call('SET', KEYS[m + 1 + j], r[4], 'PX', r[3])
    added[#added + 1] = now + r[2]
    added[#added + 1] = r[1]
  end
  replies[#replies + 1] = reply
end
for i, c in pairs(held) do
  if c.touched then
    if c.delta ~= 0 then redis.call('HINCRBY', KEYS[i], 'reserved', c.delta) end
    if c.created then
      redis.call('HSET', KEYS[i], 'used', 0)
      redis.call('PEXPIREAT', KEYS[i], c.expires + grace)
    end
  end
end
if #added > 0 then redis.call('ZADD', KEYS[1], unpack(added)) end
return replies
`;

/**
 * Settles or releases a batch of reservations. What the batch gives back and charges is summed per counter and
 * applied once per counter (as in the reserve script), after every reservation's own record is updated.
 * KEYS: pending, then the reservation keys.  ARGV: base, graceMs, and the batch as one JSON array: per reservation
 * [id, mode ('settle' | 'release'), costMicro, tokens, requests].
 * Answers one reply per reservation: 1 when it changed something, 0 when the reservation was already settled or
 * released, or is unknown.
 */
export const FINISH_SCRIPT = `${PRELUDE}
local base = ARGV[1]
local grace = tonumber(ARGV[2])
local replies = {}
-- Per counter key: { reserved to give back (negative), used to add, latest window end }, in first-seen order.
local sums = {}
local order = {}
local done = {}
for j, f in ipairs(cjson.decode(ARGV[3])) do
  local id = f[1]
  local rkey = KEYS[j + 1]
  local changed = 0
  local raw = redis.call('GET', rkey)
  if not raw then
    done[#done + 1] = id
  else
    local rec = cjson.decode(raw)
    if rec.s ~= 'settled' and rec.s ~= 'released' then
      local settle = f[2] ~= 'release'
      local actual = { cost = f[3], tokens = f[4], requests = f[5] }
      for _, c in ipairs(rec.c) do
        local key = base .. 'c:' .. c.k
        local sum = sums[key]
        if sum == nil then
          sum = { 0, 0, c.e }
          sums[key] = sum
          order[#order + 1] = key
        end
        if rec.s == 'reserved' then sum[1] = sum[1] - c.a end
        if settle then sum[2] = sum[2] + (actual[c.u] or 0) end
        if c.e > sum[3] then sum[3] = c.e end
      end
      -- What is left of a finished reservation is its state: a repeated settle or release finds it and does nothing.
      redis.call('SET', rkey, settle and '{"s":"settled"}' or '{"s":"released"}', 'KEEPTTL')
      done[#done + 1] = id
      changed = 1
    end
  end
  replies[#replies + 1] = changed
end
for _, key in ipairs(order) do
  local sum = sums[key]
  -- A counter this creates (it expired, or was evicted) must get its expiry: one whose reserved amount went below
  -- zero, or whose used amount is just this batch's charge. A past expiry deletes it again at once. Every change
  -- here lowers reserved, so clamping the sum at zero is clamping each step at zero. Nothing to give back for a zero
  -- amount; and -0 is not an integer to Redis (HINCRBY would fail the script).
  local fresh = false
  if sum[1] ~= 0 and redis.call('HINCRBY', key, 'reserved', sum[1]) < 0 then
    redis.call('HSET', key, 'reserved', 0)
    fresh = true
  end
  if sum[2] ~= 0 and redis.call('HINCRBY', key, 'used', sum[2]) == sum[2] then fresh = true end
  if fresh then redis.call('PEXPIREAT', key, sum[3] + grace) end
end
if #done > 0 then redis.call('ZREM', KEYS[1], unpack(done)) end
return replies
`;

/** KEYS: pending.  ARGV: base, now, max.  Answers { expired, ids looked at }. */
export const EXPIRE_SCRIPT = `${PRELUDE}
local expired, seen = expire_stale(ARGV[1], KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
return { expired, seen }
`;
