/**
 * The Lua port of `applyLogHit`, `logExpiresAt`, `applyHit` and `stateExpiresAt` (rate-limit.strategies.ts), run
 * atomically by Redis in one round trip. Time comes from Redis `TIME`, so application instances with skewed clocks
 * agree.
 *
 * `sliding-log` keeps the log in a list (expiry times in ms, oldest first) under the first key of a check and
 * `blockedUntil` in a string under the second. The window strategies keep a hash under the first key with the fields
 * `w` (windowStart), `c` (current), `p` (previous) and `b` (blockedUntil), and do not touch the second.
 *
 * One call checks a batch of keys, one after the other, at one instant (a key may appear more than once), so a
 * batch counts exactly as the same checks sent one by one would.
 *
 * KEYS     per check: the state key, the block key (same hash tag)
 * ARGV     per check: ttlMs, limit, blockDurationMs, strategy (`sliding-log` | `fixed-window` | `sliding-window` |
 *          `token-bucket`), cost (1 hit, 0 peek)
 * Returns  per check: { totalHits, isBlocked (0|1), remaining, timeToExpireMs, timeToBlockExpireMs }
 */
export const RATE_LIMIT_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local function ms(n) return string.format('%.0f', n) end

-- applyLogHit + logExpiresAt
local function checkLog(key, blockKey, ttl, limit, blockDuration, cost)
  local blockedUntil = tonumber(redis.call('GET', blockKey) or '0')
  if blockedUntil > now then
    return { limit + cost, 1, 0, blockedUntil - now, blockedUntil - now }
  end
  if blockedUntil ~= 0 then
    redis.call('DEL', key, blockKey)
    blockedUntil = 0
  end
  local size = redis.call('LLEN', key)
  if size > 0 and tonumber(redis.call('LINDEX', key, size - 1)) <= now then
    redis.call('DEL', key)
    size = 0
  end
  while size > 0 and tonumber(redis.call('LINDEX', key, 0)) <= now do
    redis.call('LPOP', key)
    size = size - 1
  end

  local count = size
  local denied = count >= limit
  if (not denied) and cost == 1 then
    redis.call('RPUSH', key, ms(now + ttl))
    size = size + 1
    count = count + 1
  end
  local expireMs = ttl
  if size > 0 then expireMs = tonumber(redis.call('LINDEX', key, 0)) - now end
  local result
  if not denied then
    result = { count, 0, limit - count, expireMs, 0 }
  else
    local retryMs = ttl
    if limit > 0 then retryMs = tonumber(redis.call('LINDEX', key, count - limit)) - now end
    if cost == 1 and blockDuration > 0 then
      blockedUntil = now + blockDuration
      retryMs = blockDuration
    end
    result = { count + cost, 1, 0, expireMs, math.max(1, retryMs) }
  end

  if cost == 1 then
    local newest = 0
    if size > 0 then newest = tonumber(redis.call('LINDEX', key, size - 1)) end
    local idleAt = math.max(newest, blockedUntil)
    if size > 0 then redis.call('PEXPIRE', key, ms(math.max(1, idleAt - now))) end
    if blockedUntil ~= 0 then redis.call('SET', blockKey, ms(blockedUntil), 'PX', ms(math.max(1, idleAt - now))) end
  end
  return result
end

local function check(key, ttl, limit, blockDuration, strategy, cost)
  local fresh = function()
    if strategy == 'token-bucket' then return now, limit, 0, 0 end
    return now, 0, 0, 0
  end

  local w, c, p, b
  local stored = redis.call('HMGET', key, 'w', 'c', 'p', 'b')
  if stored[1] then
    w, c, p, b = tonumber(stored[1]), tonumber(stored[2]), tonumber(stored[3]), tonumber(stored[4])
  else
    w, c, p, b = fresh()
  end

  if b > now then
    return { limit + cost, 1, 0, b - now, b - now }
  end
  if b ~= 0 then w, c, p, b = fresh() end

  local count, expireMs, retryMs, denied
  if strategy == 'token-bucket' then
    local refill = ((now - w) * limit) / ttl
    c = math.min(limit, c + refill)
    w = now
    denied = c < 1
    if (not denied) and cost == 1 then c = c - 1 end
    count = limit - math.floor(c)
    if limit > 0 then
      expireMs = math.ceil(((limit - c) * ttl) / limit)
      retryMs = math.ceil(((1 - c) * ttl) / limit)
    else
      expireMs, retryMs = ttl, ttl
    end
  else
    local elapsed = now - w
    if elapsed >= ttl then
      local windows = math.floor(elapsed / ttl)
      if strategy == 'sliding-window' and windows == 1 then p = c else p = 0 end
      c = 0
      w = w + windows * ttl
    end
    elapsed = now - w
    local weighted = 0
    if strategy == 'sliding-window' then weighted = math.floor((p * (ttl - elapsed)) / ttl) end
    count = weighted + c
    denied = count + 1 > limit
    if (not denied) and cost == 1 then
      c = c + 1
      count = count + 1
    end
    expireMs = w + ttl - now
    retryMs = expireMs
    if strategy == 'sliding-window' and limit > 0 then
      if c >= limit then
        retryMs = w + ttl - now + math.floor((ttl * (c - limit)) / c) + 1
      else
        retryMs = w + math.floor((ttl * (p - limit + c)) / p) + 1 - now
      end
    end
  end

  local result
  if not denied then
    result = { count, 0, math.max(0, limit - count), expireMs, 0 }
  else
    if cost == 1 and blockDuration > 0 then
      b = now + blockDuration
      retryMs = blockDuration
    end
    result = { count + cost, 1, 0, expireMs, math.max(1, retryMs) }
  end

  if cost == 1 then
    local idleAt
    if strategy == 'token-bucket' then
      if limit > 0 then idleAt = w + math.ceil(((limit - c) * ttl) / limit) else idleAt = w + ttl end
    elseif strategy == 'sliding-window' then
      idleAt = w + 2 * ttl
    else
      idleAt = w + ttl
    end
    idleAt = math.max(idleAt, b)
    redis.call('HSET', key, 'w', w, 'c', c, 'p', p, 'b', b)
    redis.call('PEXPIRE', key, math.max(1, idleAt - now))
  end
  return result
end

local replies = {}
for i = 1, #KEYS / 2 do
  local a = (i - 1) * 5
  local ttl = math.max(1, tonumber(ARGV[a + 1]))
  local limit = math.max(0, math.floor(tonumber(ARGV[a + 2])))
  local blockDuration = tonumber(ARGV[a + 3])
  local strategy = ARGV[a + 4]
  local cost = tonumber(ARGV[a + 5])
  if strategy == 'sliding-log' then
    replies[i] = checkLog(KEYS[2 * i - 1], KEYS[2 * i], ttl, limit, blockDuration, cost)
  else
    replies[i] = check(KEYS[2 * i - 1], ttl, limit, blockDuration, strategy, cost)
  end
end
return replies
`;
