-- Give back a claim whose record could not be written.
-- KEYS: 1 coupons-left hash, 2 coupons-claimed hash, 3 version key
-- ARGV: 1 coupon_id, 2 viewer_id
-- Returns {left, version}
local field = ARGV[1] .. '|' .. ARGV[2]
if redis.call('HINCRBY', KEYS[2], field, -1) <= 0 then
  redis.call('HDEL', KEYS[2], field)
end
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return {left, next_version(KEYS[3])}
