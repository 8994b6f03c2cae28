/**
 * One count in Redis: adds ARGV[2] events to the current bucket of a subject's metric, scores the bucket against
 * the ones before it, and opens an episode (and a block) when it is the first anomalous bucket after one that was
 * not. Every key of a call shares one hash tag (one slot on Redis Cluster) and carries a TTL.
 *
 * KEYS[1] counts (hash: bucket index → count, `f` → first bucket)   KEYS[2] episode (the last anomalous bucket)
 * KEYS[3] block
 * ARGV: bucket, n, baselineBuckets, minCount, zScore, minDeviation, episode TTL ms, blockMs (0: no block),
 *       counts TTL ms (how long an idle subject's history is kept)
 * Answers { observed, opened (0|1), block PTTL (ms, ≤ 0: none), mean, stdDev, z } (the last three as strings).
 */
export const ANOMALY_COUNT_LUA = `
local bucket = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local size = tonumber(ARGV[3])
local minCount = tonumber(ARGV[4])
local zScore = tonumber(ARGV[5])
local minDev = tonumber(ARGV[6])
local ttl = tonumber(ARGV[7])
local blockMs = tonumber(ARGV[8])

local retain = tonumber(ARGV[9])

redis.call('HSETNX', KEYS[1], 'f', bucket)
local first = tonumber(redis.call('HGET', KEYS[1], 'f'))
local observed = redis.call('HINCRBY', KEYS[1], bucket, n)
redis.call('PEXPIRE', KEYS[1], retain)
if redis.call('HLEN', KEYS[1]) > size + 3 then
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if field ~= 'f' and tonumber(field) < bucket - size then redis.call('HDEL', KEYS[1], field) end
  end
end

local last = tonumber(redis.call('GET', KEYS[2]) or '-1')
if last >= 0 and bucket > last + 1 then
  redis.call('DEL', KEYS[2])
  last = -1
end

local function answer(opened, mean, sd, z)
  return { observed, opened, redis.call('PTTL', KEYS[3]), tostring(mean), tostring(sd), tostring(z) }
end
-- A subject's first bucket is partial: its baseline starts with the next one (at most size buckets), so its
-- first two buckets are never anomalous.
if observed < minCount or bucket < first + 2 then return answer(0, 0, 0, 0) end
if bucket - first - 1 < size then size = bucket - first - 1 end

local fields = {}
for i = 1, size do fields[i] = bucket - i end
local values = redis.call('HMGET', KEYS[1], unpack(fields))
local sum = 0
for i = 1, size do values[i] = tonumber(values[i] or '0'); sum = sum + values[i] end
local mean = sum / size
local squares = 0
for i = 1, size do squares = squares + (values[i] - mean) ^ 2 end
local sd = math.sqrt(squares / size)
local z = (observed - mean) / math.max(sd, minDev, math.sqrt(mean))
if z < zScore then return answer(0, mean, sd, z) end

local opened = 0
if last < 0 then
  opened = 1
  if blockMs > 0 then redis.call('SET', KEYS[3], '1', 'PX', blockMs) end
end
redis.call('SET', KEYS[2], bucket, 'PX', ttl)
return answer(opened, mean, sd, z)
`;
