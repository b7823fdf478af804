-- Turn a hold into a sale: the units stay taken and the hold leaves the expiry set.
-- KEYS: 1 holds zset, 2 hold hash
-- ARGV: 1 order_id
-- Returns 1 when this call committed the hold, 0 when it was no longer held.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('DEL', KEYS[2])
return 1
