-- Claim one coupon for a viewer: never more claims than the quantity, nor than the
-- per-viewer limit, and never after expiry.
-- KEYS: 1 coupons-left hash, 2 coupons-claimed hash, 3 coupon-expiry hash, 4 version key
-- ARGV: 1 coupon_id, 2 viewer_id, 3 per_viewer_limit, 4 now_ms
-- Returns {"ok", left, version} | {"err", code}
local left = redis.call('HGET', KEYS[1], ARGV[1])
if not left then
  return {'err', 'not_found'}
end
local expires = redis.call('HGET', KEYS[3], ARGV[1])
if expires and tonumber(ARGV[4]) >= tonumber(expires) then
  return {'err', 'coupon_expired'}
end
if tonumber(left) <= 0 then
  return {'err', 'coupon_sold_out'}
end
local field = ARGV[1] .. '|' .. ARGV[2]
local claimed = tonumber(redis.call('HGET', KEYS[2], field) or '0')
if claimed >= tonumber(ARGV[3]) then
  return {'err', 'coupon_limit_exceeded'}
end
redis.call('HINCRBY', KEYS[2], field, 1)
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
return {'ok', left, next_version(KEYS[4])}
