-- Return a hold's units to stock, exactly once: only the caller whose ZREM removed the hold
-- gives the units back, so racing reapers, cancels and compensations release it once.
-- KEYS: 1 stock hash, 2 bought hash, 3 holds zset, 4 hold hash, 5 idempotency key (any key of
--       the session when ARGV[2] is '0': every key must share the session's Cluster slot, so
--       it is never an empty name), 6 version key
-- ARGV: 1 order_id, 2 '1' to delete KEYS[5] with the hold, '0' to keep it
-- Returns {0} when the hold was already gone, {1, product_id, stock_left, version} when released.
if redis.call('ZREM', KEYS[3], ARGV[1]) == 0 then
  return {0}
end
local hold = redis.call('HGETALL', KEYS[4])
redis.call('DEL', KEYS[4])
local fields = {}
for i = 1, #hold, 2 do fields[hold[i]] = hold[i + 1] end
if not fields.product_id then
  return {0}
end
local qty = tonumber(fields.qty)
-- A paused session (stock hash deleted while Redis state is rebuilt) stays paused: the rebuild
-- counts these units from the record, and recreating the field would resume sales early.
local left = 0
if redis.call('HEXISTS', KEYS[1], fields.product_id) == 1 then
  left = redis.call('HINCRBY', KEYS[1], fields.product_id, qty)
end
if fields.cap_field and fields.cap_field ~= ''
    and redis.call('HEXISTS', KEYS[1], fields.cap_field) == 1 then
  redis.call('HINCRBY', KEYS[1], fields.cap_field, qty)
end
local field = fields.counter or (fields.product_id .. '|' .. fields.viewer_id)
if redis.call('HINCRBY', KEYS[2], field, -qty) <= 0 then
  redis.call('HDEL', KEYS[2], field)
end
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[5])
end
return {1, fields.product_id, left, next_version(KEYS[6])}
