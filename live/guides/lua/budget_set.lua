-- Set a guide's budget caps; what was already spent stays, or comes from the record when Redis
-- holds no budget yet (first set, or Redis lost it).
-- KEYS: 1 the budget hash
-- ARGV: 1 count cap, 2 value cap (cents), 3 count spent per the record, 4 value spent per the
-- record, 5 TTL in seconds
-- Returns {count left, value left in cents}.
redis.call('HSETNX', KEYS[1], 'count_used', ARGV[3])
redis.call('HSETNX', KEYS[1], 'value_used', ARGV[4])
redis.call('HSET', KEYS[1], 'count_cap', ARGV[1], 'value_cap', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[5])
local used = redis.call('HMGET', KEYS[1], 'count_used', 'value_used')
return {tonumber(ARGV[1]) - tonumber(used[1]), tonumber(ARGV[2]) - tonumber(used[2])}
