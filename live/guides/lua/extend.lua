-- The viewer ordered: with lock extension, its binding runs again from now (a last-touch window
-- or a first-touch protection), so the guide keeps a customer who keeps buying.
-- KEYS: 1 the viewer's binding key
-- ARGV: 1 guide id the order was attributed to, 2 now ms, 3 span ms
-- Returns the binding's new expiry (ms), or 0 when the binding is gone or names another guide.
local current = redis.call('GET', KEYS[1])
if not current then
  return 0
end
local binding = cjson.decode(current)
if binding.g ~= ARGV[1] or tonumber(ARGV[2]) >= tonumber(binding.u) then
  return 0
end
binding.u = tonumber(ARGV[2]) + tonumber(ARGV[3])
redis.call('SET', KEYS[1], cjson.encode(binding), 'PX', ARGV[3])
return binding.u
