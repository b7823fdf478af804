-- Units come back to a product's stock outside a hold: a paid order refunded before shipping,
-- or units the host added. A paused session (stock hash deleted while Redis state is rebuilt)
-- stays paused: the rebuild counts these units from the record.
-- KEYS: 1 stock hash, 2 bought hash, 3 version key
-- ARGV: 1 product_id, 2 units, 3 per-viewer counter field to lower by the units ('' = none),
--       4 cap field of an open sale to give the units back to ('' = none)
-- Returns {stock_left, version}
local units = tonumber(ARGV[2])
local left = 0
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  left = redis.call('HINCRBY', KEYS[1], ARGV[1], units)
end
if ARGV[4] ~= '' and redis.call('HEXISTS', KEYS[1], ARGV[4]) == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[4], units)
end
if ARGV[3] ~= '' and redis.call('HINCRBY', KEYS[2], ARGV[3], -units) <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[3])
end
return {left, next_version(KEYS[3])}
