-- Shared by the scripts that change a counter viewers see (stock, coupons left): the session's
-- change version, one step higher on every change, so rooms can tell a late event from a new
-- one. A lost key restarts at the server clock in microseconds, above any version handed out
-- before (that would take more than one change per microsecond since it first started).
-- KEY: the session's version key
local function next_version(key)
  local version = redis.call('INCR', key)
  if version == 1 then
    local now = redis.call('TIME')
    version = tonumber(now[1]) * 1000000 + tonumber(now[2])
    redis.call('SET', key, version)
  end
  return version
end
