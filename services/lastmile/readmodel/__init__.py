"""The Redis read models: the only code that spells Redis keys and scripts.

keys    -- every key name (and which share a Redis Cluster hash tag, and why)
codec   -- how values are encoded (violation rollup fields, parcel paths, ...)
writer  -- what the worker writes: batch facts and projected violations (idempotent)
holds   -- the held-findings sorted set
reader  -- what the API, the reviews and the worker's gauges read

docs/read-models.md lists every key: type, writer, readers, retention, growth.
"""
