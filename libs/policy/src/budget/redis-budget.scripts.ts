/**
 * Lua scripts of the Redis budget store. Every key shares one hash tag, so all of them live in one slot and a
 * script may touch the counters a stale reservation names (read from the reservation itself) on Redis Cluster too.
 *
 * Layout under `<base>` = `<prefix>{<tag>}:`:
 *   `<base>c:<counter key>`  hash { used, reserved }, expiring a grace period after its window ends
 *   `<base>r:<id>`           string, the reservation as JSON { s: state, c: [{ k, a, u, e }] } while it is open or
 *                            expired; deleted once settled or released (a repeated settle or release then finds
 *                            nothing and does nothing, as for an unknown id)
 *   `<base>pending`          sorted set of open reservation ids, scored by expiry (epoch ms)
 *
 * A script that fails part way keeps what it wrote before the error (Redis does not roll back), so the batch scripts
 * read and check everything first and write last: the store checks each call's values before it joins a batch, and
 * what could still fail (a record this store cannot read) is skipped, not thrown.
 */

const PRELUDE = `
-- An integer as Redis reads one: Lua's own formatting (%.14g) is exact below 1e14 and would send 1e+15 above it.
local function int(x)
  if x < 1e14 and x > -1e14 then return x end
  return string.format('%.0f', x)
end

-- The highest a counter field is taken to: far past any limit, and far from HINCRBY's 64-bit overflow.
local CAP = 4e18

-- Redis's unpack limit is ~8,000 values: long lists go in slices.
local function in_slices(command, key, items)
  for i = 1, #items, 1000 do
    redis.call(command, key, unpack(items, i, math.min(i + 999, #items)))
  end
end

-- The reservation record, or nil when there is none or it is not one this store wrote.
local function read_record(rkey)
  local raw = redis.call('GET', rkey)
  if not raw then return nil end
  local ok, rec = pcall(cjson.decode, raw)
  if not ok or type(rec) ~= 'table' or type(rec.c) ~= 'table' then return nil end
  for _, c in ipairs(rec.c) do
    if type(c) ~= 'table' or type(c.k) ~= 'string' or type(c.a) ~= 'number' or type(c.u) ~= 'string'
      or type(c.e) ~= 'number' then
      return nil
    end
  end
  return rec
end

local function give_back(base, rec)
  for _, c in ipairs(rec.c) do
    local key = base .. 'c:' .. c.k
    -- Nothing to give back for a zero amount; and -0 is not an integer to Redis.
    if c.a ~= 0 and redis.call('EXISTS', key) == 1 then
      local left = redis.call('HINCRBY', key, 'reserved', int(-c.a))
      if left < 0 then redis.call('HSET', key, 'reserved', 0) end
    end
  end
end

local function expire_one(base, pending, id)
  redis.call('ZREM', pending, id)
  local rkey = base .. 'r:' .. id
  local rec = read_record(rkey)
  if not rec or rec.s ~= 'reserved' then return 0 end
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
 * per reservation and counter is most of the script's cost on the server. A counter named twice by one reservation
 * must hold both amounts. A counter this batch creates for a window already over (grace included, on the server's
 * clock) is deleted at once, as its expiry would: the next reservation on it starts again from zero.
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
local batch = cjson.decode(ARGV[5])
-- What each counter holds, read on first use and kept up to date below; written back once at the end.
local held = {}
local function counter(i)
  local c = held[i]
  if c == nil then
    local state = redis.call('HMGET', KEYS[i], 'used', 'reserved')
    -- A counter without a used field is new (every script that creates one sets its expiry, which a key's window
    -- fixes): it gets the field and its expiry once, not on every call.
    c = { used = tonumber(state[1]) or 0, reserved = tonumber(state[2]) or 0, created = state[1] == false,
          expires = 0, touched = false }
    held[i] = c
  end
  return c
end
-- The server's clock, which decides when a key's expiry has passed (read only for a counter this batch creates).
local clock = nil
local function server_ms()
  if clock == nil then
    local t = redis.call('TIME')
    clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return clock
end
local replies = {}
local records = {}
local added = {}
for j, r in ipairs(batch) do
  local cs = r[5]
  local n = #cs / 4
  local reply = nil
  -- What this reservation asks of each counter so far (one named twice holds both amounts).
  local asked = {}
  for i = 1, n do
    local at = (i - 1) * 4
    local c = counter(cs[at + 1])
    local wanted = (asked[cs[at + 1]] or 0) + cs[at + 3]
    if c.used + c.reserved + wanted > cs[at + 2] then
      reply = { 0, i, c.used, c.reserved }
      break
    end
    asked[cs[at + 1]] = wanted
  end
  if not reply then
    reply = { 1 }
    for i = 1, n do
      local at = (i - 1) * 4
      local c = held[cs[at + 1]]
      c.reserved = c.reserved + cs[at + 3]
      c.touched = true
      if cs[at + 4] > c.expires then c.expires = cs[at + 4] end
      reply[#reply + 1] = c.used
      reply[#reply + 1] = c.reserved
    end
    for i = 1, n do
      local c = held[cs[(i - 1) * 4 + 1]]
      if c.created and c.touched and c.expires + grace <= server_ms() then
        c.used, c.reserved, c.expires, c.touched = 0, 0, 0, false
      end
    end
    records[#records + 1] = { KEYS[m + 1 + j], r[4], r[3] }
    added[#added + 1] = int(now + r[2])
    added[#added + 1] = r[1]
  end
  replies[#replies + 1] = reply
end
-- Every check is done: the writes.
for i, c in pairs(held) do
  if c.touched then
    local reserved = int(math.min(c.reserved, CAP))
    if c.created then
      redis.call('HSET', KEYS[i], 'reserved', reserved, 'used', 0)
      redis.call('PEXPIREAT', KEYS[i], int(c.expires + grace))
    else
      redis.call('HSET', KEYS[i], 'reserved', reserved)
    end
  end
end
for _, w in ipairs(records) do redis.call('SET', w[1], w[2], 'PX', int(w[3])) end
in_slices('ZADD', KEYS[1], added)
return replies
`;

/**
 * Settles or releases a batch of reservations. What the batch gives back and charges is summed per counter and
 * applied once per counter (as in the reserve script), after every reservation's record is read; the first of a
 * settle and a release of one id in a batch wins. A finished reservation's record is deleted.
 * KEYS: pending, then the reservation keys.  ARGV: base, graceMs, and the batch as one JSON array: per reservation
 * [id, mode ('settle' | 'release'), costMicro, tokens, requests].
 * Answers one reply per reservation: 1 when it changed something, 0 when the reservation was already settled or
 * released, or is unknown.
 */
export const FINISH_SCRIPT = `${PRELUDE}
local base = ARGV[1]
local grace = tonumber(ARGV[2])
local batch = cjson.decode(ARGV[3])
local replies = {}
-- Per counter key: { reserved to give back (negative), used to add, latest window end }, in first-seen order.
local sums = {}
local order = {}
local finished = {}
local done = {}
local seen = {}
for j, f in ipairs(batch) do
  local rkey = KEYS[j + 1]
  local changed = 0
  if not seen[rkey] then
    seen[rkey] = true
    local rec = read_record(rkey)
    if rec and rec.s ~= 'settled' and rec.s ~= 'released' then
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
      finished[#finished + 1] = rkey
      changed = 1
    end
    done[#done + 1] = f[1]
  end
  replies[#replies + 1] = changed
end
-- Every record is read: the writes.
for _, key in ipairs(order) do
  local sum = sums[key]
  -- A counter this creates (it expired, or was evicted) must get its expiry: one whose reserved amount went below
  -- zero, or whose used amount is just this batch's charge. A past expiry deletes it again at once. Every change
  -- here lowers reserved, so clamping the sum at zero is clamping each step at zero. Nothing to give back for a zero
  -- amount; and -0 is not an integer to Redis.
  local fresh = false
  if sum[1] ~= 0 and redis.call('HINCRBY', key, 'reserved', int(sum[1])) < 0 then
    redis.call('HSET', key, 'reserved', 0)
    fresh = true
  end
  local add = sum[2]
  if add > 1e15 then
    -- Charges this large only come from absurd usage reports: the counter stops at CAP instead of overflowing.
    local used = tonumber(redis.call('HGET', key, 'used')) or 0
    add = math.max(0, math.min(add, CAP - used))
  end
  if add ~= 0 and redis.call('HINCRBY', key, 'used', int(add)) == add then fresh = true end
  if fresh then redis.call('PEXPIREAT', key, int(sum[3] + grace)) end
end
for _, rkey in ipairs(finished) do redis.call('DEL', rkey) end
in_slices('ZREM', KEYS[1], done)
return replies
`;

/** KEYS: pending.  ARGV: base, now, max.  Answers { expired, ids looked at }. */
export const EXPIRE_SCRIPT = `${PRELUDE}
local expired, seen = expire_stale(ARGV[1], KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
return { expired, seen }
`;
