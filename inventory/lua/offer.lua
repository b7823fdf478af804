-- Offer one available unit of a product to the first viewer of its waitlist: the viewer leaves
-- the queue and the unit becomes a hold of theirs until the offer's expiry, in one step, so a
-- unit is offered once and in queue order whoever runs this (any node, any number at once).
-- A viewer the per-viewer limit leaves no room for is taken out of the queue and skipped.
-- KEYS: 1 stock hash, 2 bought hash, 3 holds zset, 4 hold hash of the new offer,
--       5 the product's waitlist zset, 6 generations hash, 7 version key, 8 terms version key
-- ARGV: 1 product_id, 2 limit (0 = none), 3 order id of the offer, 4 expires_ms,
--       5 cap field ('' = none), 6 terms version the caller read
-- Returns {"err", "stale_terms" | "not_loaded" | "empty" | "none"} | {"skipped", viewer, position}
--       | {"ok", viewer, position, stock_left, generation, version}
if tonumber(redis.call('GET', KEYS[8]) or '0') ~= tonumber(ARGV[6]) then
  return {'err', 'stale_terms'}
end
local available = redis.call('HGET', KEYS[1], ARGV[1])
local cap_field = ARGV[5]
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
if tonumber(available) < 1 or (cap and tonumber(cap) < 1) then
  return {'err', 'empty'}
end
local head = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
if #head == 0 then
  return {'err', 'none'}
end
local viewer, position = head[1], head[2]
redis.call('ZREM', KEYS[5], viewer)
local prefix = cap_field
if prefix == '' then prefix = ARGV[1] end
local field = prefix .. '|' .. viewer
local limit = tonumber(ARGV[2])
if limit > 0 and tonumber(redis.call('HGET', KEYS[2], field) or '0') + 1 > limit then
  return {'skipped', viewer, position}
end
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if cap then
  redis.call('HINCRBY', KEYS[1], cap_field, -1)
end
redis.call('HINCRBY', KEYS[2], field, 1)
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
redis.call('HSET', KEYS[4], 'product_id', ARGV[1], 'viewer_id', viewer, 'qty', 1,
  'cap_field', cap_field, 'counter', field)
local generation = tonumber(redis.call('HGET', KEYS[6], ARGV[1]) or '0')
return {'ok', viewer, position, left, generation, next_version(KEYS[7])}
