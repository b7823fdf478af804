-- Give back a claim whose record could not be written.
-- KEYS: 1 coupons-left hash, 2 coupons-claimed hash
-- ARGV: 1 coupon_id, 2 viewer_id
local field = ARGV[1] .. '|' .. ARGV[2]
if redis.call('HINCRBY', KEYS[2], field, -1) <= 0 then
  redis.call('HDEL', KEYS[2], field)
end
return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
