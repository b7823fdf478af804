-- Append one event to a session stream under the next number of its counter.
-- The entry id is "<n>-0" so that readers can resume after any number they saw, and the
-- stored JSON already carries the number: the bytes in the stream are the frame as sent.
-- Once the session's "ended" event is in, no comment may follow it: the archive closes the
-- session on that event, so a later comment would never be archived. A muted author's comment
-- is refused here too, so a mute holds on every node at the same instant.
-- The epoch names one life of the counters: when Redis loses them (restart without
-- persistence), the first new number comes with a new epoch, and clients holding seqs of the
-- old life are sent a snapshot instead of a wrong catch-up.
-- KEYS: 1 stream, 2 counter, 3 the session's ended flag, 4 muted set, 5 epoch
-- ARGV: 1 type, 2 body JSON object without type and number, 3 "seq" (integer) | "id" (string),
--       4 author user id ('' for events), 5 a fresh epoch to use if none is set,
--       6.. more (type, body) pairs of events to append right after the first, in order
-- Returns the number given to the last event, -1 for a comment after the end, -2 when muted.
if ARGV[3] == 'id' then
  if redis.call('EXISTS', KEYS[3]) == 1 then
    return -1
  end
  if ARGV[4] ~= '' and redis.call('SISMEMBER', KEYS[4], ARGV[4]) == 1 then
    return -2
  end
end
redis.call('SET', KEYS[5], ARGV[5], 'NX')

local function append(event_type, body)
  if event_type == 'ended' then
    redis.call('SET', KEYS[3], '1')
  end
  local n = redis.call('INCR', KEYS[2])
  local head
  if ARGV[3] == 'seq' then
    head = '{"type":"' .. event_type .. '","seq":' .. n
  else
    head = '{"type":"' .. event_type .. '","id":"' .. n .. '"'
  end
  local frame
  if body == '{}' then
    frame = head .. '}'
  else
    frame = head .. ',' .. string.sub(body, 2)
  end
  redis.call('XADD', KEYS[1], n .. '-0', 'e', frame)
  return n
end

local n = append(ARGV[1], ARGV[2])
for i = 6, #ARGV, 2 do
  n = append(ARGV[i], ARGV[i + 1])
end
return n
