-- Reserve units of a product for a viewer: one atomic step over stock, the per-viewer limit,
-- the idempotency record and the hold. During a flash sale the units also come out of the
-- sale's own cap (a second field of the stock hash) and the limit counts sale purchases.
-- Units that came back while viewers wait for the product are theirs (the offer loop hands them
-- out in queue order): a reserve takes only what is left beyond one unit per waiting viewer.
-- KEYS: 1 stock hash, 2 bought hash, 3 holds zset, 4 hold hash, 5 idempotency key,
--       6 generations hash, 7 version key, 8 terms version key, 9 the product's waitlist zset
-- ARGV: 1 product_id, 2 viewer_id, 3 qty, 4 limit (0 = none), 5 order_id, 6 expires_ms,
--       7 idempotency ttl seconds, 8 request hash, 9 cap field ('' = none),
--       10 limit counter prefix ('' = the product id), 11 terms version the caller read
-- Returns {"repeat", recorded} | {"err", code} | {"err", "sold_out", version}
--       | {"ok", order_id, stock_left, generation, version, cap_left (-1 = no cap)}
-- A sold_out refusal carries the session's change version it was decided at: a stock event
-- of that version or older tells of nothing that came back after it.
local recorded = redis.call('GET', KEYS[5])
if recorded then
  return {'repeat', recorded}
end
-- Price, limit and sale were read from a cache at this terms version: refuse if they changed
-- since (not recorded under the key: the caller reads fresh terms and tries again).
if tonumber(redis.call('GET', KEYS[8]) or '0') ~= tonumber(ARGV[11]) then
  return {'err', 'stale_terms'}
end
local qty = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local cap_field = ARGV[9] or ''
local available = redis.call('HGET', KEYS[1], ARGV[1])
local cap = nil
if cap_field ~= '' then
  cap = redis.call('HGET', KEYS[1], cap_field)
  if not cap then
    return {'err', 'not_loaded'}
  end
end
if not available then
  return {'err', 'not_loaded'}
end
available = tonumber(available)
local function refuse(code)
  redis.call('SET', KEYS[5], 'err|' .. code .. '|' .. ARGV[8], 'EX', ARGV[7])
  return {'err', code}
end
local waiting = redis.call('ZCARD', KEYS[9])
if available - waiting < qty or (cap and tonumber(cap) - waiting < qty) then
  refuse('sold_out')
  return {'err', 'sold_out', tonumber(redis.call('GET', KEYS[7]) or '0')}
end
local prefix = ARGV[10] or ''
if prefix == '' then prefix = ARGV[1] end
local field = prefix .. '|' .. ARGV[2]
local already = tonumber(redis.call('HGET', KEYS[2], field) or '0')
if limit > 0 and already + qty > limit then
  return refuse('limit_exceeded')
end
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -qty)
local cap_left = -1
if cap then
  cap_left = redis.call('HINCRBY', KEYS[1], cap_field, -qty)
end
redis.call('HINCRBY', KEYS[2], field, qty)
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
redis.call('HSET', KEYS[4], 'product_id', ARGV[1], 'viewer_id', ARGV[2], 'qty', qty,
  'cap_field', cap_field, 'counter', field)
redis.call('SET', KEYS[5], 'ok|' .. ARGV[5] .. '|' .. ARGV[8], 'EX', ARGV[7])
-- The generation is read in the same step as the units, so the order carries the generation
-- of the counters it was taken from.
local generation = tonumber(redis.call('HGET', KEYS[6], ARGV[1]) or '0')
return {'ok', ARGV[5], left, generation, next_version(KEYS[7]), cap_left}
