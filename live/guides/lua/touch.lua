-- A viewer touched a guide's share code: bind, keep or rebind, per the brand's policy, in one
-- atomic step (concurrent touches of one viewer resolve in Redis order).
-- KEYS: 1 the viewer's binding key
-- ARGV: 1 binding JSON to write if this touch binds (its "u" is filled in here), 2 guide id,
--       3 now ms, 4 policy ("last_touch" | "first_touch"), 5 window ms (last touch),
--       6 protection ms (first touch), 7 "1" when only new customers may be bound,
--       8 "1" when the viewer is already a customer of the brand
-- Returns {outcome, until_ms}: outcome "bound" (new guide), "refreshed" (same guide, later
-- expiry), "kept" (the bound guide keeps the viewer), "customer" (not a new customer).
local now = tonumber(ARGV[3])
local current = redis.call('GET', KEYS[1])
local bound = current and cjson.decode(current) or nil
-- Expiry is judged on the app's clock (the binding's "u"), the TTL only cleans up.
if bound and now >= tonumber(bound.u) then
  bound = nil
end
if ARGV[7] == '1' and ARGV[8] == '1' then
  -- Only new customers are bound: a customer's touch changes nothing.
  return {'customer', bound and bound.u or 0}
end
local span = tonumber(ARGV[5])
if ARGV[4] == 'first_touch' then
  span = tonumber(ARGV[6])
  if bound and bound.g ~= ARGV[2] then
    return {'kept', bound.u}
  end
end
local outcome = 'bound'
local binding = cjson.decode(ARGV[1])
if bound and bound.g == ARGV[2] then
  outcome = 'refreshed'
  if ARGV[4] == 'first_touch' then
    -- The protection runs from the first touch; touching again does not extend it.
    return {'kept', bound.u}
  end
  binding.b = bound.b
end
binding.u = now + span
redis.call('SET', KEYS[1], cjson.encode(binding), 'PX', span)
return {outcome, binding.u}
