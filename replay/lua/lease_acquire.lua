-- Take or renew a lease.
-- KEYS[1]: lease key. ARGV[1]: owner id. ARGV[2]: time to live in ms.
-- Returns 1 when the caller holds the lease for ARGV[2] ms from now, 0 when another owner does.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
