-- A session's order terms changed (status, sale opened or closed): cached terms read before
-- are refused by the next reserve.
-- KEYS: 1 terms version key
-- Returns the new terms version.
return next_version(KEYS[1])
