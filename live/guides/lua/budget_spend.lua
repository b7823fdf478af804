-- One nudge coupon out of a guide's budget in a session, counted on every node at once.
-- KEYS: 1 the budget hash (count_cap, value_cap, count_used, value_used)
-- ARGV: 1 the coupon's value in cents
-- Returns {taken (1 taken, 0 refused, -1 no budget in Redis: load it from the record), count
-- left, value left in cents}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {-1, 0, 0}
end
local budget = redis.call('HMGET', KEYS[1], 'count_cap', 'value_cap', 'count_used', 'value_used')
local count_cap, value_cap = tonumber(budget[1]) or 0, tonumber(budget[2]) or 0
local count_used, value_used = tonumber(budget[3]) or 0, tonumber(budget[4]) or 0
local value = tonumber(ARGV[1])
if count_used + 1 > count_cap or value_used + value > value_cap then
  return {0, count_cap - count_used, value_cap - value_used}
end
redis.call('HINCRBY', KEYS[1], 'count_used', 1)
redis.call('HINCRBY', KEYS[1], 'value_used', value)
return {1, count_cap - count_used - 1, value_cap - value_used - value}
