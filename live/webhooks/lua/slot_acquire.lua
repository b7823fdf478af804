-- Take one of a brand's delivery slots (its concurrency limit, over every node).
-- KEYS[1]: the brand's slot set (member: a lane, score: expiry in ms).
-- ARGV[1]: lane id @ node id. ARGV[2]: now in ms. ARGV[3]: expiry in ms. ARGV[4]: the limit.
-- Returns 1 when the slot is taken (or renewed, when this lane holds it), 0 when all are busy.
-- Slots of nodes that died expire with their lease, so a crash never shrinks the limit.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
