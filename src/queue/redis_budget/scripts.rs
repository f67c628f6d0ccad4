//! The budget's Lua scripts, run atomically by Redis on its own clock.

/// Grant, or the wait until the next possible start. Returns
/// `{status, wait_us, now_us}`: status 1 granted, 0 window full, 2 paused.
/// Also repairs what no replica writes: a key of the wrong type, a pause
/// longer than `ARGV[5]` µs, a start scored past the lease.
pub(super) const ACQUIRE: &str = r"
local function i(x) return string.format('%d', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local kt = redis.call('TYPE', KEYS[1]).ok
if kt ~= 'none' and kt ~= 'zset' then redis.call('DEL', KEYS[1]) end
kt = redis.call('TYPE', KEYS[2]).ok
if kt ~= 'none' and kt ~= 'string' then redis.call('DEL', KEYS[2]) end
local maxp = tonumber(ARGV[5])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if paused > now + maxp then
  paused = now + maxp
  redis.call('SET', KEYS[2], i(paused), 'PX', i(math.ceil(maxp / 1000) + 1000))
end
if paused > now then
  return {2, paused - now, now}
end
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', i(now - window))
redis.call('ZREMRANGEBYSCORE', KEYS[1], '(' .. i(now + lease), '+inf')
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], i(now + lease), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], i(math.ceil((lease + window) / 1000) + 1000))
  return {1, 0, now}
end
local e = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
local s = math.min(tonumber(e[2]), now)
return {0, s + window - now, now}
";

/// `{now_us, paused_until_us, starts...}`, the last `limit` starts in the
/// window (pending ones as now; none scored past the lease `ARGV[4]`),
/// newest first; no starts when the window has room for all `ARGV[3]`
/// starts asked about. A key of the wrong type reads as empty. Read-only,
/// but for a pause longer than `ARGV[5]` µs, which no replica sets: it is
/// cut back here too, since while it refuses every caller no start runs
/// the acquire script that would.
pub(super) const PROJECT: &str = r"
local function i(x) return string.format('%d', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = 0
if redis.call('TYPE', KEYS[2]).ok == 'string' then
  paused = tonumber(redis.call('GET', KEYS[2])) or 0
  local maxp = tonumber(ARGV[5])
  if paused > now + maxp then
    paused = now + maxp
    redis.call('SET', KEYS[2], i(paused), 'PX', i(math.ceil(maxp / 1000) + 1000))
  end
end
if redis.call('TYPE', KEYS[1]).ok ~= 'zset' then
  return {now, paused}
end
local window = tonumber(ARGV[2])
local last = i(now + tonumber(ARGV[4]))
local n = redis.call('ZCOUNT', KEYS[1], '(' .. i(now - window), last)
if n + tonumber(ARGV[3]) <= tonumber(ARGV[1]) then
  return {now, paused}
end
local e = redis.call('ZREVRANGEBYSCORE', KEYS[1], last, '(' .. i(now - window),
  'LIMIT', 0, tonumber(ARGV[1]), 'WITHSCORES')
local out = {now, paused}
for j = 2, #e, 2 do
  out[#out + 1] = math.min(tonumber(e[j]), now)
end
return out
";

/// Pauses every start until Redis-now + ARGV[1] µs, keeping a later pause.
pub(super) const PAUSE: &str = r"
local function i(x) return string.format('%d', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local d = tonumber(ARGV[1])
local cur = 0
if redis.call('TYPE', KEYS[1]).ok == 'string' then
  cur = tonumber(redis.call('GET', KEYS[1])) or 0
end
if now + d > cur then
  redis.call('SET', KEYS[1], i(now + d), 'PX', i(math.ceil(d / 1000) + 1000))
end
return 1
";
