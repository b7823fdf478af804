-- Set a product's available units (when the product is added).
-- KEYS: 1 stock hash, 2 version key
-- ARGV: 1 product_id, 2 units
-- Returns the change version.
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return next_version(KEYS[2])
